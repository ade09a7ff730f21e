"""Python twin of fpn_R18.yaml: smp's FPN on ResNet-18."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "FPN"
model.backbone.encoder = "resnet18"
train.output_dir = "output/shapes/fpn_R18"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
