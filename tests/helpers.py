"""Helpers the tests share: running tools/train_net.py on the tiny shapes split, the
configs and datasets they train, importing a script by its path."""

import importlib.util
import json
import os
import subprocess
import sys

# seg_d2 first: its compat fixes must apply before any test module imports detectron2.
import seg_d2  # noqa: F401

import torch
from hypothesis import strategies as st


def unregister(name):
    """Remove a dataset registered with seg_d2.data.register_coco_dataset, all its variants."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    for suffix in ("", "_sem_seg", "_panoptic", "_panoptic_separated"):
        DatasetCatalog.remove(name + suffix)
        MetadataCatalog.remove(name + suffix)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_net(config, output_dir, data, *args, datasets=("tiny_train", "tiny_val"), size=160):
    """Run tools/train_net.py on a tiny shapes split made by ``tiny_shapes``: flags in
    ``args`` (``--resume``, ``--eval-only``, ``--num-gpus N``, ...) first, then small
    settings, then the ``KEY VALUE`` pairs of ``args`` (so they win); return its log."""
    run = subprocess.run(
        train_net_command(config, output_dir, data, *args, datasets=datasets, size=size),
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


def python_config_overrides(data, output_dir, size=160):
    """key=value overrides that train a shapes Python config on the tiny split in ``data``,
    on the CPU, into ``output_dir``."""
    return [
        f"datasets.coco_format=['tiny_train={data}/annotations/instances_train.json:{data}/train',"
        f"'tiny_val={data}/annotations/instances_val.json:{data}/val']",
        "dataloader.train.dataset.names=tiny_train",
        "dataloader.test.dataset.names=tiny_val",
        "dataloader.train.total_batch_size=2",
        "dataloader.train.num_workers=0",
        "dataloader.test.num_workers=0",
        f"dataloader.train.mapper.augmentations.0.short_edge_length=[{size}]",
        f"dataloader.test.mapper.augmentations.0.short_edge_length={size}",
        "train.device=cpu",
        f"train.output_dir={output_dir}",
    ]


_FLAGS_WITH_A_VALUE = ("--num-gpus", "--num-machines", "--machine-rank", "--dist-url")


def train_net_command(
    config, output_dir, data, *args, datasets=("tiny_train", "tiny_val"), size=160
):
    """The command line ``train_net`` runs."""
    train, test = datasets
    flags, overrides = [], []
    arguments = iter(args)
    for arg in arguments:
        if arg in _FLAGS_WITH_A_VALUE:
            flags += [arg, next(arguments)]
        else:
            (flags if arg.startswith("--") else overrides).append(arg)
    command = [
        sys.executable,
        os.path.join(REPO, "tools", "train_net.py"),
        "--config-file",
        os.path.join(REPO, config),
        *flags,
        "DATASETS.COCO_FORMAT",
        f"['tiny_train={data}/annotations/instances_train.json:{data}/train',"
        f"'tiny_val={data}/annotations/instances_val.json:{data}/val']",
        "DATASETS.TRAIN",
        f"('{train}',)",
        "DATASETS.TEST",
        f"('{test}',)",
        "INPUT.MIN_SIZE_TRAIN",
        f"({size},)",
        "INPUT.MIN_SIZE_TEST",
        str(size),
        "SOLVER.IMS_PER_BATCH",
        "2",
        "SOLVER.BASE_LR",
        "0.01",
        "SOLVER.WARMUP_ITERS",
        "5",
        "SOLVER.CHECKPOINT_PERIOD",
        "20",
        "TEST.EVAL_PERIOD",
        "20",
        "DATALOADER.NUM_WORKERS",
        "0",
        "MODEL.DEVICE",
        "cpu",
        "OUTPUT_DIR",
        str(output_dir),
        *overrides,
    ]
    return command


def load_module(path):
    """Import a script of the repository (a tool, the corpus generator) by its path."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metrics(output_dir):
    with open(os.path.join(output_dir, "metrics.json")) as f:
        return [json.loads(line) for line in f]


MASK_RCNN = "configs/shapes/mask_rcnn_R18_FPN.yaml"


UNET = "configs/shapes/unet.yaml"


SEMANTIC_DATASETS = ("tiny_train_sem_seg", "tiny_val_sem_seg")


PANOPTIC_FPN = "configs/shapes/panoptic_fpn_R18.yaml"


PANOPTIC_DATASETS = ("tiny_train_panoptic_separated", "tiny_val_panoptic_separated")


def semantic_records(folder, label_maps):
    """Write each label map as a PNG; return dataset records pointing at them."""
    from PIL import Image

    records = []
    for k, labels in enumerate(label_maps):
        path = os.path.join(folder, f"{k}.png")
        Image.fromarray(labels).save(path)
        records.append({"file_name": f"image{k}.jpg", "sem_seg_file_name": path})
    return records


@st.composite
def label_maps(draw, num_classes=4):
    n, height, width = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    labels = draw(
        st.lists(
            st.integers(0, num_classes - 1),
            min_size=n * height * width,
            max_size=n * height * width,
        )
    )
    ignored = draw(
        st.lists(st.booleans(), min_size=n * height * width, max_size=n * height * width)
    )
    targets = torch.tensor(labels).reshape(n, height, width)
    targets[torch.tensor(ignored).reshape(n, height, width)] = 255
    seed = draw(st.integers(0, 2**16))
    logits = (
        torch.randn(n, num_classes, height, width, generator=torch.Generator().manual_seed(seed))
        * 3
    )
    return logits, targets


# Two things (ids 1 and 3) and one stuff class (8): ids that are not contiguous.
THINGS_AND_STUFF = [
    {"id": 1, "name": "a", "isthing": 1},
    {"id": 3, "name": "b", "isthing": 1},
    {"id": 8, "name": "road", "isthing": 0},
]


def png_sizes(paths):
    """(width, height) of each picture."""
    from PIL import Image

    return [Image.open(path).size for path in paths]


def perfect_results(dataset):
    """A COCO results file's entries that predict ``dataset``'s annotations exactly."""
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from pycocotools import mask as mask_util

    results = []
    for record in DatasetCatalog.get(dataset):
        for annotation in record["annotations"]:
            segmentation = annotation["segmentation"]
            if isinstance(segmentation, list):
                segmentation = mask_util.merge(
                    mask_util.frPyObjects(segmentation, record["height"], record["width"])
                )
            segmentation = dict(
                segmentation,
                counts=segmentation["counts"].decode()
                if isinstance(segmentation["counts"], bytes)
                else segmentation["counts"],
            )
            thing_ids = {
                v: k
                for k, v in MetadataCatalog.get(dataset).thing_dataset_id_to_contiguous_id.items()
            }
            results.append(
                {
                    "image_id": record["image_id"],
                    "category_id": thing_ids[annotation["category_id"]],
                    "bbox": annotation["bbox"],
                    "score": 1.0,
                    "segmentation": segmentation,
                }
            )
    return results


def random_model(config, *opts):
    """``config`` on the CPU with seeded random weights, in eval mode, keeping every
    detection (score threshold 0): (cfg, model)."""
    from detectron2.modeling import build_model

    cfg = seg_d2.setup_config(
        config, ["MODEL.DEVICE", "cpu", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", *opts]
    )
    torch.manual_seed(0)
    return cfg, build_model(cfg).eval()
