"""Python twin of semantic_fpn_R18.yaml: detectron2's Semantic FPN head on ResNet-18."""

from ..common.mask_rcnn import semantic_fpn
from .base_unet import dataloader, lr_multiplier, optimizer, train

model = semantic_fpn(
    depth=18,
    norm="BN",
    stride_in_1x1=False,
    fpn_channels=64,
    freeze_at=0,
    conv_dims=64,
    head_norm="BN",
)
train.output_dir = "output/shapes/semantic_fpn_R18"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
