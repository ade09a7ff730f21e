"""Python twin of hrnet_w18.yaml: HRNet-W18 (timm) with smp's FPN decoder.

Generated from the YAML file when loaded (configs/common/twin.py), which holds every
value; change them here as objects, e.g. ``train.max_iter = 100``."""

from ..common.twin import python_twin

model, dataloader, optimizer, lr_multiplier, train, test, datasets = python_twin(
    __file__, "hrnet_w18.yaml"
)
