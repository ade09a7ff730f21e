"""Python twin of nuclei_smp_unet_R18_imagenet.yaml (finetune): smp's U-Net from an
ImageNet ResNet-18 encoder (train.init_checkpoint), RGB input.

Generated from the YAML file when loaded (configs/common/twin.py), which holds every
value; change them here as objects, e.g. ``train.max_iter = 100``."""

from ..common.twin import python_twin

model, dataloader, optimizer, lr_multiplier, train, test, datasets = python_twin(
    __file__, "nuclei_smp_unet_R18_imagenet.yaml"
)
