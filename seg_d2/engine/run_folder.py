"""A training run's folder is a model: with the config detectron2 writes there
(``config.yaml``, numbers of classes and class weights filled in from the data) and the
test dataset's metadata seg_d2 writes beside it (``metadata.json``: class names, the
dataset's category ids), the weights predict with nothing else present, the training
data included.
"""

import json
import os

from detectron2.data import Metadata, MetadataCatalog
from detectron2.utils import comm

from ..atomic import write_text_atomically
from ..config import choose_device, load_config
from ..errors import ConfigError

__all__ = ["METADATA_FILE", "add_model_arguments", "load_run", "write_run_metadata"]

METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.yaml"
# What prediction reads of a dataset's metadata; the id maps have integer keys.
_KEYS = ("thing_classes", "stuff_classes", "thing_colors", "stuff_colors", "ignore_label")
_ID_MAPS = ("thing_dataset_id_to_contiguous_id", "stuff_dataset_id_to_contiguous_id")


def write_run_metadata(output_dir, dataset_name):
    """Write ``dataset_name``'s metadata that prediction reads into ``output_dir`` (by the
    first process, whole or not at all); return its path."""
    if not comm.is_main_process() or not dataset_name:
        return None
    metadata = MetadataCatalog.get(dataset_name)
    saved = {key: metadata.get(key) for key in _KEYS + _ID_MAPS if metadata.get(key) is not None}
    path = os.path.join(output_dir, METADATA_FILE)
    write_text_atomically(path, json.dumps({"dataset": dataset_name, **saved}, indent=1))
    return path


def load_run(folder, weights="model_final.pth", opts=()):
    """(config, metadata) of the training run in ``folder``, its MODEL.WEIGHTS the run's
    ``weights`` file (relative to the folder, e.g. ``best/model_best.pth``), with ``KEY
    VALUE`` overrides ``opts``; no dataset is registered or read."""
    config_file = os.path.join(folder, CONFIG_FILE)
    metadata_file = os.path.join(folder, METADATA_FILE)
    for path in (config_file, metadata_file):
        if not os.path.isfile(path):
            raise ConfigError(
                f"{folder} is not a seg_d2 run folder: it has no {os.path.basename(path)} "
                "(a YAML config's training writes both)"
            )
    cfg = load_config(config_file, ["MODEL.WEIGHTS", os.path.join(folder, weights), *opts])
    choose_device(cfg)
    with open(metadata_file, encoding="utf-8") as f:
        saved = json.load(f)
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
        "--weights", default="model_final.pth", help="with --run: the weights file in the run"
    )
