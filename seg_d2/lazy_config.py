"""detectron2's Python configs (LazyConfig ``.py`` files, as its model zoo's
``new_baselines``), set up the way seg_d2's commands set up YAML ones.

A Python config holds ``model``, ``dataloader``, ``optimizer``, ``lr_multiplier`` and
``train`` as detectron2's ``lazyconfig_train_net.py`` expects, seg_d2's components built
from plain arguments (``configs/shapes/*.py``). seg_d2 reads three more entries: the
number of classes 0 meaning "from the data" (``model.roi_heads.num_classes``,
``model.sem_seg_head.num_classes``), ``datasets.coco_format`` (``DATASETS.COCO_FORMAT``)
and ``train.clip_gradients`` (``SOLVER.CLIP_GRADIENTS``, with the same keys in lower case).
"""

import difflib

from detectron2.config import LazyConfig
from omegaconf import DictConfig, OmegaConf

from .config import (
    available_device,
    class_weights_from_data,
    config_file_path,
    num_classes_from_data,
)
from .data.coco import register_coco_format_datasets
from .errors import ConfigError

__all__ = ["is_lazy_config", "load_lazy_config", "setup_lazy_config"]

_MISSING = object()


def is_lazy_config(config):
    """Whether ``config`` is a Python config: a loaded one, or a ``.py`` file name."""
    return isinstance(config, DictConfig) or str(config).endswith(".py")


def _all_keys(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, DictConfig):
            yield from _all_keys(value, f"{prefix}{key}.")
        yield f"{prefix}{key}"


def _check_override_keys(cfg, overrides, source):
    """detectron2 would add a mistyped key silently; seg_d2 names it, with the nearest
    existing one. ``+key=value`` adds a key, as in Hydra's override grammar."""
    for override in overrides:
        key = override.split("=", 1)[0]
        if key.startswith("+"):
            continue
        if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
            close = difflib.get_close_matches(key, list(_all_keys(cfg)), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{source}: unknown config key {key}{hint}")


def load_lazy_config(config_file, overrides=()):
    """A Python config file (or a ``.py`` path in detectron2's model zoo) with
    ``key=value`` overrides applied; reads the file and nothing else."""
    cfg = LazyConfig.load(config_file_path(config_file))
    malformed = [override for override in overrides if "=" not in override]
    if malformed:
        raise ConfigError(
            f"command-line override {malformed[0]!r}: a Python config takes key=value "
            "overrides, e.g. train.max_iter=100"
        )
    _check_override_keys(cfg, overrides, "command-line override")
    return LazyConfig.apply_overrides(cfg, list(overrides))


def _training_dataset(cfg):
    names = cfg.dataloader.train.dataset.names
    return names if isinstance(names, str) else names[0]


def setup_lazy_config(config_file, overrides=()):
    """``setup_config`` for a Python config: ``load_lazy_config``, then the device, the
    datasets of ``datasets.coco_format`` registered, the numbers of classes and the class
    weights taken from the training data."""
    cfg = load_lazy_config(config_file, overrides)
    cfg.train.device = available_device(cfg.train.get("device", "cuda"), "train.device")
    register_coco_format_datasets(
        OmegaConf.select(cfg, "datasets.coco_format", default=[]), "datasets.coco_format"
    )
    dataset = _training_dataset(cfg)
    for head, attribute in (("roi_heads", "thing_classes"), ("sem_seg_head", "stuff_classes")):
        node = cfg.model.get(head)
        if node is not None and "num_classes" in node:
            node.num_classes = num_classes_from_data(
                f"model.{head}.num_classes", node.num_classes, dataset, attribute
            )
    loss = OmegaConf.select(cfg, "model.sem_seg_head.loss")
    if loss is not None and loss.get("class_weights"):
        loss.class_weights = class_weights_from_data(
            "model.sem_seg_head.loss.class_weights",
            loss.class_weights,
            [dataset],
            cfg.model.sem_seg_head.num_classes,
            loss.ignore_value,
        )
    return cfg
