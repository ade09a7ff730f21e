"""Python twin of nuclei_smp_unet_R18_imagenet.yaml (finetune): smp's U-Net from an
ImageNet ResNet-18 encoder (train.init_checkpoint), RGB input."""

from ..common.smp import smp_segmentor
from ..nuclei.unet import dataloader, datasets, lr_multiplier, optimizer, train

model = smp_segmentor("Unet", "resnet18", dice_weight=1.0)
model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
dataloader.train.mapper.image_format = "RGB"
train.output_dir = "output/finetune/nuclei_smp_unet_R18_imagenet"

__all__ = ["dataloader", "datasets", "lr_multiplier", "model", "optimizer", "train"]
