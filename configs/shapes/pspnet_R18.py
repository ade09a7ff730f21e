"""Python twin of pspnet_R18.yaml: PSPNet on ResNet-18."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "PSPNet"
model.backbone.encoder = "resnet18"
train.output_dir = "output/shapes/pspnet_R18"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
