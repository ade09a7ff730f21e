"""Python twin of Base-MaskRCNN-R18-FPN.yaml: the same model, data and schedule,
for tools/train_net.py as detectron2's lazyconfig_train_net.py reads them.

Generated from the YAML file when loaded (configs/common/twin.py), which holds every
value; change them here as objects, e.g. ``train.max_iter = 100``."""

from ..common.twin import python_twin

model, dataloader, optimizer, lr_multiplier, train, test, datasets = python_twin(
    __file__, "Base-MaskRCNN-R18-FPN.yaml"
)
