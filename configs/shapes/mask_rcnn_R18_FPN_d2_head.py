"""Python twin of mask_rcnn_R18_FPN_d2_head.yaml: detectron2's own mask head, to compare.

Generated from the YAML file when loaded (configs/common/twin.py), which holds every
value; change them here as objects, e.g. ``train.max_iter = 100``."""

from ..common.twin import python_twin

model, dataloader, optimizer, lr_multiplier, train, test, datasets = python_twin(
    __file__, "mask_rcnn_R18_FPN_d2_head.yaml"
)
