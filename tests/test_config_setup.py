"""Reading and setting up configs (seg_d2.config_setup) without training: both kinds go
through the same steps; a Python config's datasets are registered, its device chosen,
its numbers of classes and class weights read from the first training dataset, as for a
YAML one."""

import logging

from seg_d2 import config_setup
from seg_d2.config_setup import class_weights_from_data, with_weights_and_device

import pytest
from detectron2.config import LazyConfig
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


@pytest.mark.parametrize("kind", ["yaml", "python"])
def test_both_kinds_go_through_the_same_steps_in_order(kind, monkeypatch):
    config_file = f"{REPO}/configs/shapes/unet.{'py' if kind == 'python' else 'yaml'}"
    steps = []
    monkeypatch.setattr(
        config_setup,
        "SETUP_STEPS",
        tuple(
            (lambda cfg, name=name: steps.append((name, config_setup.config_kind(cfg).name)))
            for name in ("device", "datasets", "classes", "weights")
        ),
    )
    config_setup.setup_config(config_file)
    assert steps == [(name, kind) for name in ("device", "datasets", "classes", "weights")]


def test_the_setup_steps_are_device_datasets_classes_then_class_weights():
    assert config_setup.SETUP_STEPS == (
        config_setup.choose_device,
        config_setup.register_datasets,
        config_setup.set_num_classes_from_data,
        config_setup.set_class_weights_from_data,
    )


def test_a_python_runs_saved_config_is_read_as_python_whatever_its_extension(tmp_path):
    saved = tmp_path / "config.yaml"
    LazyConfig.save(config_setup.load_config(f"{REPO}/configs/shapes/unet.py"), str(saved))
    cfg = config_setup.load_config(str(saved), ["train.max_iter=7"], config_setup.PythonConfig)
    assert config_setup.config_kind(cfg) is config_setup.PythonConfig and cfg.train.max_iter == 7
    assert config_setup.config_kind(str(saved)) is config_setup.YamlConfig  # by its name alone


def test_a_commands_weights_and_device_become_the_configs_own_keys():
    assert with_weights_and_device("a.yaml", ["SEED", "1"], "w.pth", "cpu") == [
        "SEED",
        "1",
        "MODEL.WEIGHTS",
        "w.pth",
        "MODEL.DEVICE",
        "cpu",
    ]
    assert with_weights_and_device("a.py", ["train.seed=1"], "w.pth", "cpu") == [
        "train.seed=1",
        "train.init_checkpoint=w.pth",
        "train.device=cpu",
    ]
    assert with_weights_and_device("a.py", ["train.seed=1"]) == ["train.seed=1"]
