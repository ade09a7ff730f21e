"""Python twin of mask_rcnn_R50_FPN_1x.yaml."""

from .base_mask_rcnn_R50_FPN import dataloader, lr_multiplier, model, optimizer, train

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
