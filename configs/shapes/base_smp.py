"""Python twin of Base-SMP.yaml: an smp architecture trained as the U-Net is."""

from ..common.smp import smp_segmentor
from .base_unet import dataloader, lr_multiplier, optimizer, train

model = smp_segmentor("DeepLabV3Plus", "resnet18")
train.output_dir = "output/shapes/smp"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
