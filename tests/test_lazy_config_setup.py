"""setup_config for a Python config, without training: its datasets are registered, its
device chosen, its numbers of classes and class weights read from the first training
dataset, as setup_config does for a YAML one."""

import logging

from seg_d2 import config_setup
from seg_d2.config_setup import class_weights_from_data

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import REPO, unregister

# unet.py without train.device; its datasets and what to read from them given here.
CONFIG = """
from detectron2.config import LazyConfig

_unet = LazyConfig.load({unet!r})
model, dataloader, optimizer, lr_multiplier, train = (
    _unet[key] for key in ("model", "dataloader", "optimizer", "lr_multiplier", "train")
)
del train["device"]
datasets = dict(coco_format=["lazy_train={data}/annotations/instances_train.json:{data}/train"])
dataloader.train.dataset.names = ["lazy_train_sem_seg", "not_a_dataset"]
model.sem_seg_head.num_classes = 0
model.sem_seg_head.loss.class_weights = ["inverse_frequency"]
"""


@pytest.fixture
def config_file(tiny_shapes, tmp_path):
    path = tmp_path / "unet_on_tiny.py"
    path.write_text(CONFIG.format(unet=f"{REPO}/configs/shapes/unet.py", data=tiny_shapes))
    yield str(path)
    if "lazy_train" in DatasetCatalog.list():
        unregister("lazy_train")


def test_a_python_config_is_set_up_from_its_first_training_dataset(
    config_file, monkeypatch, caplog
):
    devices = []
    monkeypatch.setattr(
        config_setup, "available_device", lambda *asked: devices.append(asked) or "cpu"
    )
    with caplog.at_level(logging.INFO, logger="seg_d2.config_setup"):
        cfg = config_setup.setup_config(config_file)
    assert devices == [("cuda", "train.device")] and cfg.train.device == "cpu"
    head = cfg.model.sem_seg_head
    classes = len(MetadataCatalog.get("lazy_train_sem_seg").stuff_classes)
    assert head.num_classes == classes
    expected = class_weights_from_data(
        "weights", ["inverse_frequency"], ["lazy_train_sem_seg"], classes, head.loss.ignore_value
    )
    assert head.loss.class_weights == expected and len(set(expected)) == classes
    assert "model.sem_seg_head.loss.class_weights from the pixels of lazy_train_sem_seg" in (
        caplog.text
    )


def test_a_datasets_entry_that_is_not_a_pair_is_named_with_its_key(config_file):
    with pytest.raises(ValueError, match="^datasets.coco_format entry 'lazy_train' is not"):
        config_setup.setup_config(config_file, ["datasets.coco_format=[lazy_train]"])
