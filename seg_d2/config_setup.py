"""Reading a config and setting it up for a run: one pipeline for both kinds of config.

A YAML config (a ``CfgNode`` with seg_d2's keys, ``seg_d2/config.py``) and a Python
config (detectron2's LazyConfig ``.py`` files, as its model zoo's ``new_baselines``) go
through the same steps, each a function with one job:

1. ``load_config``: read the file and the overrides (for YAML: detectron2's and seg_d2's
   defaults, the file, ``KEY VALUE`` overrides, ``MODEL.WEIGHTS`` checked; for Python: the
   file and ``key=value`` overrides; for both, the learning rate scaled to the batch).
   Nothing else is read and nothing is registered: a run's saved config loads anywhere.
2. ``setup_config`` then runs ``SETUP_STEPS`` on it, the steps that depend on this
   machine and on the data: the device (``choose_device``), the COCO-format datasets the
   config names (``register_datasets``: the one step with an effect outside the config,
   detectron2's dataset catalog), the numbers of classes (``set_num_classes_from_data``)
   and the class weights (``set_class_weights_from_data``) taken from them.

Each step finds what it reads and fills through ``settings_of(cfg)``, which knows where
each kind keeps it. A Python config holds ``model``, ``dataloader``, ``optimizer``,
``lr_multiplier`` and ``train`` as detectron2's ``lazyconfig_train_net.py`` expects;
seg_d2 reads more: the number of classes 0 meaning "from the data"
(``model.roi_heads.num_classes``, ``model.sem_seg_head.num_classes``),
``datasets.coco_format`` (``DATASETS.COCO_FORMAT``), ``test`` (``TEST.AUG`` and
``TEST.SLIDING_WINDOW`` in lower case) and in ``train`` the entries of
configs/common/train.py (``clip_gradients``, ``reference_batch_size``, ``seed``, ...).
"""

import difflib
import logging
import os
import re

import torch
import yaml
from detectron2 import model_zoo
from detectron2.config import CfgNode as CN
from detectron2.config import LazyConfig
from detectron2.data import MetadataCatalog
from omegaconf import DictConfig, OmegaConf

from .config import INVERSE_FREQUENCY, get_cfg
from .data.class_weights import class_pixel_counts, inverse_frequency_weights
from .data.coco import register_coco_format_datasets
from .errors import ConfigError

__all__ = [
    "CONFIG_KINDS",
    "SETUP_STEPS",
    "PythonConfig",
    "YamlConfig",
    "available_device",
    "choose_device",
    "class_weights_from_data",
    "config_file_path",
    "config_kind",
    "is_lazy_config",
    "load_config",
    "num_classes_from_data",
    "register_datasets",
    "scale_lr_to_batch",
    "set_class_weights_from_data",
    "set_num_classes_from_data",
    "settings_of",
    "setup_config",
    "with_weights_and_device",
]

_MISSING = object()

# Meta-architectures with detectron2's ROI heads (thing classes) and with a semantic
# head (stuff classes of the training dataset: all classes for a _sem_seg dataset,
# "things" + stuff for a _panoptic_separated one).
_ROI_HEADS_MODELS = ("GeneralizedRCNN", "PanopticFPN")
_SEM_SEG_HEAD_MODELS = ("SemanticSegmentor", "PanopticFPN")


# Reading a file of each kind


def is_lazy_config(config):
    """Whether ``config`` is a Python config: a loaded one, or a ``.py`` file name."""
    return isinstance(config, DictConfig) or str(config).endswith(".py")


def config_file_path(config_file):
    """``config_file``, or where detectron2's model zoo keeps a config of that name."""
    if os.path.isfile(config_file):
        return config_file
    try:
        return model_zoo.get_config_file(config_file)
    except RuntimeError:
        raise ConfigError(
            f"config file {config_file!r} is neither a file nor in detectron2's model zoo"
        ) from None


def _merge_file_safely(cfg, config_file):
    """``cfg.merge_from_file`` with YAML's safe loader only: a config may come from
    anywhere, and fvcore would otherwise construct the Python objects a tag names (and so
    run code), with no more than a log line."""
    try:
        cfg.merge_from_file(config_file, allow_unsafe=False)
    except yaml.YAMLError as error:
        problem = str(error).replace("\n", " ")
        raise ConfigError(
            f"{config_file}: cannot read it as a config ({problem}); seg_d2 reads YAML configs "
            "with a safe loader, which refuses tags that construct Python objects"
        ) from None


def _all_keys(node, prefix=""):
    """Every key of a config of either kind, as the nearest match to a mistyped one."""
    for key, value in node.items():
        if isinstance(value, (CN, DictConfig)):
            yield from _all_keys(value, f"{prefix}{key}.")
        yield f"{prefix}{key}"


def _merge(cfg, merge, source):
    """``merge()``, an unknown key reported with the nearest valid one."""
    try:
        merge()
    except ValueError as error:  # yacs: a value of another type than the key's default
        mismatch = re.search(
            r"Type mismatch \(<class '(\w+)'> vs\. <class '\w+'>\) with values \((.*) vs\. "
            r"(.*)\) for config key: ([\w.]+)",
            str(error),
        )
        if mismatch is None:
            raise
        kind, default, given, key = mismatch.groups()
        raise ConfigError(
            f"{source}: {key} takes a value of type {kind} (the config has {default}), "
            f"not {given!r}"
        ) from None
    except (KeyError, AssertionError) as error:
        odd = re.search(r"Override list has odd length: (.*); it must", str(error))
        if odd is not None:
            raise ConfigError(
                f"{source}: overrides come in KEY VALUE pairs, and {odd.group(1)} has an odd "
                "number of words"
            ) from None
        renamed = re.search(
            r"Key ([\w.]+) was renamed to ([\w.]+);[^.]*\.(?: Note: (.*))?", str(error).strip("'\"")
        )
        if renamed is not None:
            note = f" ({renamed.group(3)})" if renamed.group(3) else ""
            raise ConfigError(
                f"{source}: config key {renamed.group(1)} is now {renamed.group(2)}{note}"
            ) from None
        match = re.search(r"Non-existent (?:config )?key: ([\w.]+)", str(error))
        if match is None:
            raise
        key = match.group(1)
        close = difflib.get_close_matches(key, list(_all_keys(cfg)), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"{source}: unknown config key {key}{hint}") from None


def check_weights_file(weights):
    """A local ``MODEL.WEIGHTS`` must exist (a URL is fetched later, by the checkpointer)."""
    if weights and "://" not in weights and not os.path.isfile(weights):
        raise ConfigError(f"MODEL.WEIGHTS: no such file {weights!r}")


def scale_lr_to_batch(cfg):
    """Scale the learning rate to the batch when the config names the batch its rate was
    chosen for (``SOLVER.REFERENCE_IMS_PER_BATCH``, ``train.reference_batch_size``), so
    that a user who changes the batch to fit their memory keeps a learning rate that
    trains."""
    settings = settings_of(cfg)
    reference = settings.reference_batch_size
    if reference <= 0:
        return
    batch = settings.batch_size
    if batch == reference:
        return
    scaled = settings.learning_rate * batch / reference
    logging.getLogger(__name__).info(
        "%s %g chosen for %d images per batch, scaled to %g for %s %d",
        type(settings).learning_rate.key,
        settings.learning_rate,
        reference,
        scaled,
        settings.batch_size_key,
        batch,
    )
    settings.learning_rate = scaled
    settings.reference_batch_size = batch


def _load_yaml_config(config_file, opts):
    """A config from a YAML file, which may also be a path inside detectron2's model zoo
    (e.g. ``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml``), with ``KEY VALUE``
    overrides applied last, ``MODEL.WEIGHTS`` checked and the learning rate scaled to the
    batch (``scale_lr_to_batch``). Reads the file and nothing else: no dataset is
    registered or read, so a config saved with a run (whose numbers of classes and class
    weights are numbers) loads and builds its model anywhere."""
    config_file = config_file_path(config_file)
    cfg = get_cfg()
    _merge(cfg, lambda: _merge_file_safely(cfg, config_file), config_file)
    _merge(cfg, lambda: cfg.merge_from_list(list(opts)), "command-line override")
    check_weights_file(cfg.MODEL.WEIGHTS)
    scale_lr_to_batch(cfg)
    return cfg


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


def _load_python_config(config_file, overrides):
    """A Python config file (or a ``.py`` path in detectron2's model zoo) with
    ``key=value`` overrides applied and the learning rate scaled to the batch
    (``scale_lr_to_batch``); reads the file and nothing else."""
    cfg = LazyConfig.load(config_file_path(config_file))
    malformed = [override for override in overrides if "=" not in override]
    if malformed:
        raise ConfigError(
            f"command-line override {malformed[0]!r}: a Python config takes key=value "
            "overrides, e.g. train.max_iter=100"
        )
    _check_override_keys(cfg, overrides, "command-line override")
    cfg = LazyConfig.apply_overrides(cfg, list(overrides))
    scale_lr_to_batch(cfg)
    return cfg


# The two kinds, and where each keeps what the set-up steps read and fill


class _Setting:
    """A setting a kind of config keeps at the dotted ``key``, read and written there;
    ``default`` where the config leaves it out (a Python config may)."""

    def __init__(self, key, default=None):
        self.key, self.default = key, default

    def __get__(self, settings, kind=None):
        if settings is None:
            return self
        node = settings.cfg
        for part in self.key.split("."):
            if part not in node:
                return self.default
            node = node[part]
        return node

    def __set__(self, settings, value):
        *parents, leaf = self.key.split(".")
        node = settings.cfg
        for part in parents:
            node = node[part]
        setattr(node, leaf, value)  # as an attribute: a frozen CfgNode refuses it


class YamlConfig:
    """A YAML config (a ``CfgNode``), as the set-up steps see it."""

    name = "yaml"
    device = _Setting("MODEL.DEVICE")
    learning_rate = _Setting("SOLVER.BASE_LR")
    batch_size = _Setting("SOLVER.IMS_PER_BATCH")
    reference_batch_size = _Setting("SOLVER.REFERENCE_IMS_PER_BATCH")
    device_key, batch_size_key = device.key, batch_size.key
    datasets_key = "DATASETS.COCO_FORMAT"
    weights_key = "MODEL.WEIGHTS"
    load = staticmethod(_load_yaml_config)

    @staticmethod
    def with_override(overrides, key, value):
        """``overrides`` with ``key`` set to ``value``, in this kind's override syntax."""
        return [*overrides, key, value]

    def __init__(self, cfg):
        self.cfg = cfg

    @property
    def coco_format(self):
        return list(self.cfg.DATASETS.COCO_FORMAT)

    def test_options(self):
        """The config ``with_test_options`` reads ``TEST.SLIDING_WINDOW`` and ``TEST.AUG``
        from: this one."""
        return self.cfg

    @property
    def class_source(self):
        """The dataset whose classes the heads get: the first training one, else test."""
        names = self.cfg.DATASETS.TRAIN or self.cfg.DATASETS.TEST
        return names[0] if names else None

    @property
    def test_dataset(self):
        """The dataset a run's predictions take their classes from: the first test one."""
        return (self.cfg.DATASETS.TEST or self.cfg.DATASETS.TRAIN)[0]

    @property
    def training_datasets(self):
        return list(self.cfg.DATASETS.TRAIN)

    def class_counts(self):
        """(key, node, field, metadata attribute) of each head with a number of classes."""
        architecture = self.cfg.MODEL.META_ARCHITECTURE
        if architecture in _ROI_HEADS_MODELS:
            yield (
                "MODEL.ROI_HEADS.NUM_CLASSES",
                self.cfg.MODEL.ROI_HEADS,
                "NUM_CLASSES",
                "thing_classes",
            )
        if architecture in _SEM_SEG_HEAD_MODELS:
            yield (
                "MODEL.SEM_SEG_HEAD.NUM_CLASSES",
                self.cfg.MODEL.SEM_SEG_HEAD,
                "NUM_CLASSES",
                "stuff_classes",
            )

    def class_weights(self):
        """(key, node, field, number of classes, ignored label) of the class weights."""
        head = self.cfg.MODEL.SEM_SEG_HEAD
        return (
            "MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS",
            head,
            "CLASS_WEIGHTS",
            head.NUM_CLASSES,
            head.IGNORE_VALUE,
        )


class PythonConfig:
    """A Python config (a LazyConfig ``DictConfig``), as the set-up steps see it."""

    name = "python"
    device = _Setting("train.device", default="cuda")
    learning_rate = _Setting("optimizer.lr")
    reference_batch_size = _Setting("train.reference_batch_size", default=0)
    device_key = device.key
    batch_size_key = "dataloader.train.total_batch_size x train.accumulate_grad_steps"
    datasets_key = "datasets.coco_format"
    weights_key = "train.init_checkpoint"
    load = staticmethod(_load_python_config)

    @staticmethod
    def with_override(overrides, key, value):
        return [*overrides, f"{key}={value}"]

    def __init__(self, cfg):
        self.cfg = cfg

    @property
    def coco_format(self):
        return list(OmegaConf.select(self.cfg, "datasets.coco_format", default=[]))

    @property
    def batch_size(self):
        """Images per optimizer step: the loader's batch times the steps accumulated."""
        steps = self.cfg.train.get("accumulate_grad_steps", 1)
        return self.cfg.dataloader.train.total_batch_size * steps

    def test_options(self):
        """A YAML config holding the ``test`` entry's sliding windows and test-time
        augmentation and what they read of the model (``with_test_options``'s view)."""
        view = get_cfg()
        test = self.cfg.get("test", {})
        aug, window = test.get("aug", {}), test.get("sliding_window", {})
        view.TEST.AUG.ENABLED = aug.get("enabled", False)
        view.TEST.AUG.MIN_SIZES = tuple(aug.get("min_sizes", view.TEST.AUG.MIN_SIZES))
        view.TEST.AUG.MAX_SIZE = aug.get("max_size", view.TEST.AUG.MAX_SIZE)
        view.TEST.AUG.FLIP = aug.get("flip", view.TEST.AUG.FLIP)
        view.TEST.SLIDING_WINDOW.SIZE = window.get("size", 0)
        view.TEST.SLIDING_WINDOW.STRIDE = window.get("stride", 0)
        model = self.cfg.model
        view.MODEL.META_ARCHITECTURE = _target_name(model)
        view.INPUT.FORMAT = self.cfg.dataloader.test.mapper.image_format
        roi_heads = model.get("roi_heads")
        if roi_heads is not None:
            predictor = roi_heads.box_predictor  # its arguments, where not left at defaults
            view.MODEL.ROI_HEADS.NUM_CLASSES = roi_heads.num_classes
            view.MODEL.ROI_HEADS.NMS_THRESH_TEST = predictor.get(
                "test_nms_thresh", view.MODEL.ROI_HEADS.NMS_THRESH_TEST
            )
            view.TEST.DETECTIONS_PER_IMAGE = predictor.get(
                "test_topk_per_image", view.TEST.DETECTIONS_PER_IMAGE
            )
            view.MODEL.MASK_ON = roi_heads.get("mask_head") is not None
        return view

    @staticmethod
    def _first(names):
        return names if isinstance(names, str) else names[0]

    @property
    def class_source(self):
        return self._first(self.cfg.dataloader.train.dataset.names)

    @property
    def test_dataset(self):
        return self._first(self.cfg.dataloader.test.dataset.names)

    @property
    def training_datasets(self):
        return [self.class_source]

    def class_counts(self):
        for head, attribute in (("roi_heads", "thing_classes"), ("sem_seg_head", "stuff_classes")):
            node = self.cfg.model.get(head)
            if node is not None and "num_classes" in node:
                yield f"model.{head}.num_classes", node, "num_classes", attribute

    def class_weights(self):
        loss = OmegaConf.select(self.cfg, "model.sem_seg_head.loss")
        if loss is None or not loss.get("class_weights"):
            return None
        return (
            "model.sem_seg_head.loss.class_weights",
            loss,
            "class_weights",
            self.cfg.model.sem_seg_head.num_classes,
            loss.ignore_value,
        )


def _target_name(node):
    target = node._target_
    return target.rsplit(".", 1)[-1] if isinstance(target, str) else target.__name__


CONFIG_KINDS = {kind.name: kind for kind in (YamlConfig, PythonConfig)}


def config_kind(config):
    """YamlConfig or PythonConfig: of a loaded config, or of a file by its extension."""
    return PythonConfig if is_lazy_config(config) else YamlConfig


def with_weights_and_device(config_file, overrides, weights=None, device=None, kind=None):
    """``overrides`` of ``config_file`` (of either kind, or a run's, with ``kind``) with
    a command's ``--weights`` and ``--device`` as the config's own keys, when given."""
    kind = kind or config_kind(config_file)
    if weights:
        overrides = kind.with_override(overrides, kind.weights_key, weights)
    if device:
        overrides = kind.with_override(overrides, kind.device_key, device)
    return list(overrides)


def settings_of(cfg):
    """Where ``cfg`` (either kind) keeps the device, datasets, classes and class weights."""
    return config_kind(cfg)(cfg)


# The pipeline


def load_config(config_file, overrides=(), kind=None):
    """Step 1: a config file of either kind (``kind``: by the file's extension unless
    given, as for a Python config's run, saved as YAML), which may also be a path inside
    detectron2's model zoo (e.g. ``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml``),
    with its overrides (``KEY VALUE`` words for YAML, ``key=value`` for Python)."""
    return (kind or config_kind(config_file)).load(config_file, overrides)


def available_device(device, key="MODEL.DEVICE"):
    """``device``, or "cpu" (logged) for a "cuda" one on a machine without CUDA, so that a
    CPU-only user needs no override of detectron2's default "cuda"."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        logging.getLogger(__name__).info("%s %s: CUDA is not available, using the CPU", key, device)
        return "cpu"
    return device


def choose_device(cfg):
    settings = settings_of(cfg)
    settings.device = available_device(settings.device, settings.device_key)


def register_datasets(cfg):
    """Register the COCO-format datasets the config names in detectron2's catalog."""
    settings = settings_of(cfg)
    register_coco_format_datasets(settings.coco_format, settings.datasets_key)


def num_classes_from_data(key, configured, dataset_name, attribute):
    """The number of classes a head should have: ``configured``, or when it is 0 the length
    of metadata ``attribute`` of ``dataset_name``; a ConfigError when they disagree."""
    classes = MetadataCatalog.get(dataset_name).get(attribute, None) if dataset_name else None
    if classes is None:
        if configured == 0:
            raise ConfigError(
                f"{key} is 0 (from the data), but dataset {dataset_name!r} has no {attribute} "
                "metadata to take it from: set it in the config"
            )
        return configured
    if configured not in (0, len(classes)):
        raise ConfigError(
            f"{key} is {configured} but dataset {dataset_name!r} has {len(classes)} {attribute}: "
            f"set it to {len(classes)}, or to 0 to take it from the data"
        )
    return len(classes)


def set_num_classes_from_data(cfg):
    """Fill each head's number of classes left at 0 from the training dataset's metadata
    (else the test dataset's), and stop when a number in the config disagrees with it."""
    settings = settings_of(cfg)
    for key, node, field, attribute in settings.class_counts():
        node[field] = num_classes_from_data(key, node[field], settings.class_source, attribute)


def class_weights_from_data(key, weights, dataset_names, num_classes, ignore_value):
    """``weights`` as given, or for ["inverse_frequency"] the numbers, from the label pixels
    of ``dataset_names``: computed once, before any model is built."""
    if list(weights) != [INVERSE_FREQUENCY]:
        return weights
    counts = class_pixel_counts(dataset_names, num_classes, ignore_value)
    weights = inverse_frequency_weights(counts).tolist()
    logging.getLogger(__name__).info(
        "%s from the pixels of %s: %s", key, ", ".join(dataset_names), weights
    )
    return weights


def set_class_weights_from_data(cfg):
    settings = settings_of(cfg)
    weights = settings.class_weights()
    if weights is not None:
        key, node, field, num_classes, ignore_value = weights
        node[field] = class_weights_from_data(
            key, node[field], settings.training_datasets, num_classes, ignore_value
        )


SETUP_STEPS = (
    choose_device,
    register_datasets,
    set_num_classes_from_data,
    set_class_weights_from_data,
)


def setup_config(config_file, overrides=(), kind=None):
    """What every seg_d2 command does before it builds anything: ``load_config``, then
    ``SETUP_STEPS``."""
    cfg = load_config(config_file, overrides, kind)
    for step in SETUP_STEPS:
        step(cfg)
    return cfg
