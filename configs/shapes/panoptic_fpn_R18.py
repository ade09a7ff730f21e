"""Python twin of panoptic_fpn_R18.yaml: the Mask R-CNN with a U-Net head for stuff.

Generated from the YAML file when loaded (configs/common/twin.py), which holds every
value; change them here as objects, e.g. ``train.max_iter = 100``."""

from ..common.twin import python_twin

model, dataloader, optimizer, lr_multiplier, train, test, datasets = python_twin(
    __file__, "panoptic_fpn_R18.yaml"
)
