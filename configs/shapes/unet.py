"""Python twin of unet.yaml: the U-Net with cross-entropy + Dice."""

from .base_unet import dataloader, lr_multiplier, model, optimizer, train

model.sem_seg_head.loss.dice_weight = 1.0

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
