"""Loss terms shared by seg_d2's heads. Each takes logits, not probabilities."""

import torch
from detectron2.config import configurable
from torch import nn
from torch.nn import functional as F

__all__ = [
    "SemanticSegmentationLoss",
    "binary_dice_loss",
    "boundary_band",
    "boundary_bce_loss",
    "cross_entropy_loss",
    "focal_loss",
    "multiclass_dice_loss",
]


def _soft_dice_loss(probabilities, targets, dims, smooth):
    overlap = (probabilities * targets).sum(dims)
    total = probabilities.sum(dims) + targets.sum(dims)
    return (1 - (2 * overlap + smooth) / (total + smooth)).mean()


def binary_dice_loss(logits, targets, smooth=1.0):
    """Soft Dice loss per mask, averaged over masks.

    Args:
        logits: (N, H, W) mask logits.
        targets: (N, H, W) 0/1 targets (float or bool).
        smooth: added to numerator and denominator, so an empty target predicted
            empty costs nothing rather than 0/0.
    """
    if logits.numel() == 0:
        return logits.sum() * 0
    probabilities = logits.sigmoid().flatten(1)
    return _soft_dice_loss(probabilities, targets.to(probabilities.dtype).flatten(1), 1, smooth)


def boundary_band(targets, width=1):
    """Pixels within ``width`` of a mask's edge, on either side: dilation minus erosion."""
    masks = targets.to(torch.float32).unsqueeze(1)
    kernel = 2 * width + 1
    dilated = F.max_pool2d(masks, kernel, stride=1, padding=width)
    eroded = -F.max_pool2d(-masks, kernel, stride=1, padding=width)
    return (dilated != eroded).squeeze(1)


def boundary_bce_loss(logits, targets, width=1):
    """Per-pixel BCE averaged over the boundary band only: the pixels where masks
    are wrong most often, and which an area-averaged loss weighs least."""
    if logits.numel() == 0:
        return logits.sum() * 0
    band = boundary_band(targets, width)
    if not band.any():
        return logits.sum() * 0
    return F.binary_cross_entropy_with_logits(logits[band], targets.to(logits.dtype)[band])


def cross_entropy_loss(logits, targets, ignore_index=255, class_weights=None):
    """Per-pixel cross-entropy over the pixels not labelled ``ignore_index``.

    Args:
        logits: (N, C, H, W). targets: (N, H, W) int64 labels.
        class_weights: (C,) tensor or None.
    """
    if not (targets != ignore_index).any():
        return logits.sum() * 0
    return F.cross_entropy(logits, targets, weight=class_weights, ignore_index=ignore_index)


def multiclass_dice_loss(logits, targets, ignore_index=255, smooth=1.0):
    """Soft Dice of the softmax against one-hot targets, per class over the whole
    batch, averaged over classes; ignored pixels count for neither side."""
    valid = (targets != ignore_index).unsqueeze(1)
    probabilities = logits.softmax(1) * valid
    one_hot = F.one_hot(targets.clamp(max=logits.size(1) - 1) * valid.squeeze(1), logits.size(1))
    one_hot = one_hot.permute(0, 3, 1, 2).to(probabilities.dtype) * valid
    return _soft_dice_loss(probabilities, one_hot, (0, 2, 3), smooth)


def focal_loss(logits, targets, gamma=2.0, ignore_index=255):
    """Softmax focal loss (Lin et al. 2017), ``-(1 - p_t)^gamma log p_t`` averaged
    over the pixels not labelled ``ignore_index``: confident pixels weigh little."""
    valid = targets != ignore_index
    if not valid.any():
        return logits.sum() * 0
    log_p = F.log_softmax(logits, 1).permute(0, 2, 3, 1)[valid]
    log_p_true = log_p.gather(1, targets[valid].unsqueeze(1)).squeeze(1)
    return (-((1 - log_p_true.exp()) ** gamma) * log_p_true).mean()


class SemanticSegmentationLoss(nn.Module):
    """The weighted terms of a semantic head's loss, as detectron2 loss-dict entries
    (``loss_sem_seg`` is the cross-entropy, as in detectron2's heads); a term with
    weight 0 is left out. Any model predicting (N, C, H, W) logits can use it."""

    @configurable
    def __init__(
        self,
        *,
        ignore_value=255,
        cross_entropy_weight=1.0,
        dice_weight=0.0,
        focal_weight=0.0,
        focal_gamma=2.0,
        class_weights=None,
    ):
        super().__init__()
        self.ignore_value = ignore_value
        self.weights = {
            "loss_sem_seg": cross_entropy_weight,
            "loss_sem_seg_dice": dice_weight,
            "loss_sem_seg_focal": focal_weight,
        }
        self.focal_gamma = focal_gamma
        self.register_buffer(
            "class_weights",
            None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32),
        )

    @classmethod
    def from_config(cls, cfg):
        head = cfg.MODEL.SEM_SEG_HEAD
        return {
            "ignore_value": head.IGNORE_VALUE,
            "cross_entropy_weight": head.LOSS_WEIGHT * head.CROSS_ENTROPY_LOSS_WEIGHT,
            "dice_weight": head.LOSS_WEIGHT * head.DICE_LOSS_WEIGHT,
            "focal_weight": head.LOSS_WEIGHT * head.FOCAL_LOSS_WEIGHT,
            "focal_gamma": head.FOCAL_GAMMA,
            "class_weights": _class_weights_from_config(cfg),
        }

    def forward(self, logits, targets):
        logits = logits.float()
        terms = {
            "loss_sem_seg": lambda: cross_entropy_loss(
                logits, targets, self.ignore_value, self.class_weights
            ),
            "loss_sem_seg_dice": lambda: multiclass_dice_loss(logits, targets, self.ignore_value),
            "loss_sem_seg_focal": lambda: focal_loss(
                logits, targets, self.focal_gamma, self.ignore_value
            ),
        }
        return {name: weight * terms[name]() for name, weight in self.weights.items() if weight}


def _class_weights_from_config(cfg):
    head = cfg.MODEL.SEM_SEG_HEAD
    weights = list(head.CLASS_WEIGHTS)
    if not all(isinstance(w, (int, float)) for w in weights):
        raise ValueError(
            f"MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS must be numbers (seg_d2.setup_config turns "
            f"['inverse_frequency'] into them), not {weights}"
        )
    if weights and len(weights) != head.NUM_CLASSES:
        raise ValueError(
            f"{len(weights)} class weights given for {head.NUM_CLASSES} classes "
            "(MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS)"
        )
    return weights or None
