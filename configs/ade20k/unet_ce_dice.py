"""Python twin of unet_ce_dice.yaml (ADE20K): cross-entropy + Dice."""

from .base_unet import dataloader, lr_multiplier, model, optimizer, train

model.sem_seg_head.loss.dice_weight = 1.0
train.output_dir = "output/ade20k/unet_ce_dice"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
