"""A Mask R-CNN mask head that upsamples without checkerboard artefacts.

Same layout as detectron2's ``MaskRCNNConvUpsampleHead`` (3x3 convs on the RoI
features, then upsampling, then a 1x1 class predictor), but each x2 upsampling is
bilinear interpolation followed by a 3x3 convolution rather than a transposed
convolution, there may be several of them (14 -> 28 -> 56), and the loss may add
Dice and boundary terms to Mask R-CNN's per-pixel BCE. Inference is detectron2's
``mask_rcnn_inference``, so post-processing and evaluators apply unchanged.
"""

import torch
from detectron2.config import configurable
from detectron2.layers import Conv2d, ShapeSpec, cat
from detectron2.modeling.roi_heads.mask_head import (
    ROI_MASK_HEAD_REGISTRY,
    BaseMaskRCNNHead,
    mask_rcnn_inference,
    mask_rcnn_loss,
)
from torch import nn

from .layers import conv3x3, upsample_block
from .losses import binary_dice_loss, boundary_bce_loss

__all__ = ["UpsampleMaskHead", "gt_class_logits_and_targets"]


def gt_class_logits_and_targets(pred_mask_logits, instances):
    """The logits of each RoI's ground-truth class and its target mask, both (N, M, M),
    chosen as ``mask_rcnn_loss`` chooses them."""
    side = pred_mask_logits.size(2)
    class_agnostic = pred_mask_logits.size(1) == 1
    targets, classes = [], []
    for per_image in instances:
        if len(per_image) == 0:
            continue
        targets.append(
            per_image.gt_masks.crop_and_resize(per_image.proposal_boxes.tensor, side).to(
                device=pred_mask_logits.device
            )
        )
        classes.append(per_image.gt_classes.to(dtype=torch.int64))
    if not targets:
        return pred_mask_logits[:0, 0], pred_mask_logits[:0, 0]
    targets = cat(targets, dim=0).to(pred_mask_logits.dtype)
    if class_agnostic:
        return pred_mask_logits[:, 0], targets
    indices = torch.arange(pred_mask_logits.size(0), device=pred_mask_logits.device)
    return pred_mask_logits[indices, cat(classes, dim=0)], targets


@ROI_MASK_HEAD_REGISTRY.register()
class UpsampleMaskHead(BaseMaskRCNNHead):
    @configurable
    def __init__(
        self,
        input_shape: ShapeSpec,
        *,
        num_classes,
        conv_dims,
        conv_norm="",
        upsample_stages=1,
        upsample_mode="bilinear",
        dice_weight=0.0,
        boundary_weight=0.0,
        boundary_width=1,
        **kwargs,
    ):
        """
        Args:
            input_shape: shape of the pooled RoI features.
            num_classes: 1 for class-agnostic masks.
            conv_dims: channels of each 3x3 conv before upsampling; the last one is
                also the width of the upsampling stages.
            upsample_stages: number of x2 upsamplings (1: 14 -> 28, 2: 14 -> 56).
            upsample_mode: "bilinear" (interpolate + 3x3 conv) or "deconv" (detectron2's).
            dice_weight, boundary_weight: weights of the extra loss terms, 0 to disable.
            boundary_width: half-width in pixels of the band the boundary term covers.
        """
        super().__init__(**kwargs)
        if not conv_dims:
            raise ValueError("MODEL.ROI_MASK_HEAD.NUM_CONV must be at least 1")
        channels = input_shape.channels
        convs = []
        for k, dims in enumerate(conv_dims):
            conv = conv3x3(channels, dims, conv_norm)
            self.add_module(f"mask_fcn{k + 1}", conv)
            convs.append(conv)
            channels = dims
        self.convs = convs
        self.upsample = nn.Sequential(
            *[
                upsample_block(upsample_mode, channels, channels, conv_norm)
                for _ in range(upsample_stages)
            ]
        )
        self.predictor = Conv2d(channels, num_classes, kernel_size=1)
        nn.init.normal_(self.predictor.weight, std=0.001)
        nn.init.constant_(self.predictor.bias, 0)
        self.dice_weight = dice_weight
        self.boundary_weight = boundary_weight
        self.boundary_width = boundary_width

    @classmethod
    def from_config(cls, cfg, input_shape):
        head = cfg.MODEL.ROI_MASK_HEAD
        ret = super().from_config(cfg, input_shape)
        ret.update(
            input_shape=input_shape,
            num_classes=1 if head.CLS_AGNOSTIC_MASK else cfg.MODEL.ROI_HEADS.NUM_CLASSES,
            conv_dims=[head.CONV_DIM] * head.NUM_CONV,
            conv_norm=head.NORM,
            upsample_stages=head.UPSAMPLE_STAGES,
            upsample_mode=head.UPSAMPLE_MODE,
            dice_weight=head.DICE_LOSS_WEIGHT,
            boundary_weight=head.BOUNDARY_LOSS_WEIGHT,
            boundary_width=head.BOUNDARY_WIDTH,
        )
        return ret

    def layers(self, x):
        for conv in self.convs:
            x = conv(x)
        return self.predictor(self.upsample(x))

    def forward(self, x, instances):
        x = self.layers(x)
        if not self.training:
            mask_rcnn_inference(x, instances)
            return instances
        losses = {"loss_mask": mask_rcnn_loss(x, instances, self.vis_period) * self.loss_weight}
        if self.dice_weight or self.boundary_weight:
            logits, targets = gt_class_logits_and_targets(x, instances)
            if self.dice_weight:
                losses["loss_mask_dice"] = (
                    self.loss_weight * self.dice_weight * binary_dice_loss(logits, targets)
                )
            if self.boundary_weight:
                losses["loss_mask_boundary"] = (
                    self.loss_weight
                    * self.boundary_weight
                    * boundary_bce_loss(logits, targets, self.boundary_width)
                )
        return losses
