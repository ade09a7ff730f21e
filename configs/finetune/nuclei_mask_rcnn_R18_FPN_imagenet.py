"""Python twin of nuclei_mask_rcnn_R18_FPN_imagenet.yaml (finetune): from an ImageNet
ResNet-18 (train.init_checkpoint), RGB input, the backbone's BatchNorm frozen.

Generated from the YAML file when loaded (configs/common/twin.py), which holds every
value; change them here as objects, e.g. ``train.max_iter = 100``."""

from ..common.twin import python_twin

model, dataloader, optimizer, lr_multiplier, train, test, datasets = python_twin(
    __file__, "nuclei_mask_rcnn_R18_FPN_imagenet.yaml"
)
