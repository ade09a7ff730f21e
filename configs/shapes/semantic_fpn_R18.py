"""Python twin of semantic_fpn_R18.yaml: detectron2's Semantic FPN head on ResNet-18."""

from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling import SemanticSegmentor
from detectron2.modeling.meta_arch.semantic_seg import SemSegFPNHead

from ..common.mask_rcnn import resnet_fpn
from .base_unet import dataloader, lr_multiplier, optimizer, train

model = L(SemanticSegmentor)(
    backbone=resnet_fpn(depth=18, norm="BN", stride_in_1x1=False, fpn_channels=64, freeze_at=0),
    sem_seg_head=L(SemSegFPNHead)(
        input_shape={
            f"p{level}": ShapeSpec(channels=64, stride=2**level) for level in (2, 3, 4, 5)
        },
        num_classes=0,  # 0: from the data
        conv_dims=64,
        common_stride=4,
        norm="BN",
        ignore_value=255,
    ),
    pixel_mean=[103.530, 116.280, 123.675],
    pixel_std=[57.375, 57.120, 58.395],
)
train.output_dir = "output/shapes/semantic_fpn_R18"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
