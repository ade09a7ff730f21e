"""Python twin of nuclei_mask_rcnn_R18_FPN_imagenet.yaml (finetune): from an ImageNet
ResNet-18 (train.init_checkpoint), RGB input, the backbone's BatchNorm frozen."""

from ..nuclei.mask_rcnn_R18_FPN import dataloader, datasets, lr_multiplier, model, optimizer, train

model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
model.input_format = "RGB"
model.backbone.bottom_up.freeze_at = 2
model.backbone.bottom_up.stem.norm = "FrozenBN"
model.backbone.bottom_up.stages.norm = "FrozenBN"
dataloader.train.mapper.image_format = "RGB"
train.output_dir = "output/finetune/nuclei_mask_rcnn_R18_FPN_imagenet"

__all__ = ["dataloader", "datasets", "lr_multiplier", "model", "optimizer", "train"]
