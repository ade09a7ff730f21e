"""Python twin of mask_rcnn_R18_FPN_56.yaml: 56x56 masks (two x2 upsamplings)."""

from .mask_rcnn_R18_FPN import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.mask_head.upsample_stages = 2
train.output_dir = "output/shapes/mask_rcnn_R18_FPN_56"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
