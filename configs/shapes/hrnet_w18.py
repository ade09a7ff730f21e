"""Python twin of hrnet_w18.yaml: HRNet-W18 (timm) with smp's FPN decoder."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "FPN"
model.backbone.encoder = "tu-hrnet_w18"
train.output_dir = "output/shapes/hrnet_w18"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
