"""Python twin of pspnet_R50.yaml (ADE20K): PSPNet on ResNet-50.

Generated from the YAML file when loaded (configs/common/twin.py), which holds every
value; change them here as objects, e.g. ``train.max_iter = 100``."""

from ..common.twin import python_twin

model, dataloader, optimizer, lr_multiplier, train, test, datasets = python_twin(
    __file__, "pspnet_R50.yaml"
)
