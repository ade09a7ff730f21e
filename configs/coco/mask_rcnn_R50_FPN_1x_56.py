"""Python twin of mask_rcnn_R50_FPN_1x_56.yaml: 56x56 masks."""

from .base_mask_rcnn_R50_FPN import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.mask_head.upsample_stages = 2
train.output_dir = "output/coco/mask_rcnn_R50_FPN_1x_56"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
