"""Python twin of fpn_R50.yaml (ADE20K): smp's FPN on ResNet-50."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "FPN"
model.backbone.encoder = "resnet50"
train.output_dir = "output/ade20k/fpn_R50"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
