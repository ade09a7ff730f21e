"""Python twin of semantic_fpn_R50.yaml (ADE20K): detectron2's Semantic FPN head."""

from ..common.mask_rcnn import semantic_fpn
from .base_unet import dataloader, lr_multiplier, optimizer, train

model = semantic_fpn(
    depth=50,
    norm="SyncBN",
    stride_in_1x1=True,
    fpn_channels=256,
    freeze_at=0,
    conv_dims=128,
    head_norm="GN",
)
train.output_dir = "output/ade20k/semantic_fpn_R50"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
