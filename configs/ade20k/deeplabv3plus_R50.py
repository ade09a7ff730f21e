"""Python twin of deeplabv3plus_R50.yaml (ADE20K): DeepLabV3+ on ResNet-50."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "DeepLabV3Plus"
model.backbone.encoder = "resnet50"
train.output_dir = "output/ade20k/deeplabv3plus_R50"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
