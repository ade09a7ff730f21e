"""Python twin of segformer_mit_b2.yaml (ADE20K): SegFormer with the mit_b2 encoder."""

from .base_smp import dataloader, lr_multiplier, model, optimizer, train

model.backbone.architecture = "Segformer"
model.backbone.encoder = "mit_b2"
train.output_dir = "output/ade20k/segformer_mit_b2"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
