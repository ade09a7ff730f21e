"""Loss terms shared by seg_d2's heads. Each takes logits, not probabilities."""
import torch
from torch.nn import functional as F

__all__ = ["binary_dice_loss", "boundary_band", "boundary_bce_loss"]


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
    targets = targets.to(probabilities.dtype).flatten(1)
    overlap = (probabilities * targets).sum(1)
    total = probabilities.sum(1) + targets.sum(1)
    return (1 - (2 * overlap + smooth) / (total + smooth)).mean()


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
