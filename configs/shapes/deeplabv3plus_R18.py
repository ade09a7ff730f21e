"""Python twin of deeplabv3plus_R18.yaml: DeepLabV3+ on ResNet-18."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "DeepLabV3Plus"
model.backbone.encoder = "resnet18"
train.output_dir = "output/shapes/deeplabv3plus_R18"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
