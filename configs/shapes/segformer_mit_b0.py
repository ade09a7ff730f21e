"""Python twin of segformer_mit_b0.yaml: SegFormer with the mit_b0 encoder."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "Segformer"
model.backbone.encoder = "mit_b0"
train.output_dir = "output/shapes/segformer_mit_b0"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
