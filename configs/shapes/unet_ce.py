"""Python twin of unet_ce.yaml: the U-Net with cross-entropy alone."""

from .base_unet import dataloader, lr_multiplier, model, optimizer, train

train.output_dir = "output/shapes/unet_ce"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
