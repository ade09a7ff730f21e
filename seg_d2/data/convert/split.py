"""A seeded random train/validation split of a COCO JSON, by image."""

import json
import os

import numpy as np

from ...atomic_files import write_text_atomically
from ..validate import read_coco_json

__all__ = ["split_coco_json"]


def split_coco_json(json_file, val_fraction, seed=0):
    """Write ``<stem>_train.json`` and ``<stem>_val.json`` beside ``json_file``, every image
    in exactly one of them with its annotations; return their paths."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"the validation fraction must be between 0 and 1, not {val_fraction}")
    dataset = read_coco_json(json_file)
    image_ids = sorted(image["id"] for image in dataset["images"])
    num_val = max(1, round(len(image_ids) * val_fraction))
    if num_val >= len(image_ids):
        raise ValueError(f"{json_file}: {len(image_ids)} image(s) are too few to split")
    val_ids = set(np.random.default_rng(seed).permutation(image_ids)[:num_val].tolist())
    stem = os.path.splitext(json_file)[0]
    paths = []
    for split, keep in (("train", lambda i: i not in val_ids), ("val", lambda i: i in val_ids)):
        part = {
            **dataset,
            "images": [image for image in dataset["images"] if keep(image["id"])],
            "annotations": [a for a in dataset["annotations"] if keep(a["image_id"])],
        }
        paths.append(f"{stem}_{split}.json")
        write_text_atomically(paths[-1], json.dumps(part))
    return tuple(paths)
