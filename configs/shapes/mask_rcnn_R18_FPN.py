"""Python twin of mask_rcnn_R18_FPN.yaml: the default demo's Mask R-CNN."""

from .base_mask_rcnn_R18_FPN import dataloader, lr_multiplier, model, optimizer, train

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
