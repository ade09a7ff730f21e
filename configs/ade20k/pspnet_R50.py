"""Python twin of pspnet_R50.yaml (ADE20K): PSPNet on ResNet-50."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "PSPNet"
model.backbone.encoder = "resnet50"
train.output_dir = "output/ade20k/pspnet_R50"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
