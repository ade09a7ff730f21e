"""Python twin of unet.yaml: the U-Net with cross-entropy + Dice and smp's decoder layout."""

from .base_unet import dataloader, lr_multiplier, model, optimizer, train

model.sem_seg_head.loss.dice_weight = 1.0
model.sem_seg_head.upsample_mode = "nearest"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
