"""A training run's folder is a model: with the config detectron2 writes there
(``config.yaml``, numbers of classes and class weights filled in from the data; a YAML
config's as yacs writes it, a Python config's as LazyConfig saves it) and the test
dataset's metadata seg_d2 writes beside it (``metadata.json``: class names, the dataset's
category ids, which kind of config), the weights predict with nothing else present, the
training data included.
"""

import json
import os

from detectron2.data import Metadata, MetadataCatalog
from detectron2.utils import comm

from ..atomic_files import write_text_atomically
from ..config_setup import (
    CONFIG_KINDS,
    choose_device,
    config_kind,
    load_config,
    settings_of,
    with_weights_and_device,
)
from ..errors import ConfigError

__all__ = [
    "METADATA_FILE",
    "add_model_arguments",
    "load_run",
    "run_datasets",
    "write_run_metadata",
]

METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.yaml"
FINAL_WEIGHTS = "model_final.pth"
# What prediction reads of a dataset's metadata; the id maps have integer keys.
_KEYS = ("thing_classes", "stuff_classes", "thing_colors", "stuff_colors", "ignore_label")
_ID_MAPS = ("thing_dataset_id_to_contiguous_id", "stuff_dataset_id_to_contiguous_id")


def run_datasets(cfg):
    """(the ``DATASETS.COCO_FORMAT`` entries, the test dataset) of a config of either kind."""
    settings = settings_of(cfg)
    return settings.coco_format, settings.test_dataset


def write_run_metadata(output_dir, cfg):
    """Write the metadata of ``cfg``'s test dataset that prediction reads into
    ``output_dir`` (by the first process, whole or not at all); return its path."""
    _, dataset_name = run_datasets(cfg)
    if not comm.is_main_process() or not dataset_name:
        return None
    metadata = MetadataCatalog.get(dataset_name)
    saved = {key: metadata.get(key) for key in _KEYS + _ID_MAPS if metadata.get(key) is not None}
    saved["config"] = config_kind(cfg).name
    path = os.path.join(output_dir, METADATA_FILE)
    write_text_atomically(path, json.dumps({"dataset": dataset_name, **saved}, indent=1))
    return path


def load_run(folder, weights=None, opts=(), device=None):
    """(config, metadata) of the training run in ``folder``, its weights the run's
    ``weights`` file (relative to the folder, e.g. ``best/model_best.pth``; default
    model_final.pth), with the overrides ``opts`` (``KEY VALUE``, or ``key=value`` for a
    Python config's run) and ``device`` when given; no dataset is registered or read."""
    config_file = os.path.join(folder, CONFIG_FILE)
    metadata_file = os.path.join(folder, METADATA_FILE)
    for path in (config_file, metadata_file):
        if not os.path.isfile(path):
            raise ConfigError(
                f"{folder} is not a seg_d2 run folder: it has no {os.path.basename(path)} "
                "(a YAML config's training writes both)"
            )
    with open(metadata_file, encoding="utf-8") as f:
        saved = json.load(f)
    weights_file = os.path.join(folder, weights or FINAL_WEIGHTS)
    kind = CONFIG_KINDS[saved.pop("config", "yaml")]
    overrides = with_weights_and_device(config_file, opts, weights_file, device, kind)
    cfg = load_config(config_file, overrides, kind)
    choose_device(cfg)
    for key in _ID_MAPS:
        if key in saved:
            saved[key] = {int(k): v for k, v in saved[key].items()}
    return cfg, Metadata(name=saved.pop("dataset"), **saved)


def add_model_arguments(parser, required=True):
    """A command's choice of model: ``--config-file`` (with MODEL.WEIGHTS among its
    overrides) or ``--run`` (a training run's folder) with ``--weights``."""
    model = parser.add_mutually_exclusive_group(required=required)
    model.add_argument("--config-file", help="the model's config (and MODEL.WEIGHTS)")
    model.add_argument("--run", help="a training run's OUTPUT_DIR, the model it trained")
    parser.add_argument(
        "--weights",
        help=f"the weights: with --run, a file in the run (default {FINAL_WEIGHTS}); with "
        "--config-file, any file or address (as MODEL.WEIGHTS or train.init_checkpoint)",
    )
