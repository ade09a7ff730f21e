"""Semantic and panoptic ground truth derived from a COCO instances JSON.

Painting order, which decides overlaps: stuff regions, then crowd regions, then
thing instances in annotation order (a later instance covers an earlier one).
Semantic labels: the contiguous thing+stuff index of ``CategoryLayout``, 255 for
crowd regions and, when the dataset has stuff categories of its own, for pixels
nothing covers (with only things, those pixels are "background"). Panoptic: one
segment per thing instance, per crowd region (``iscrowd`` 1) and per stuff
category present, in COCO panoptic format (RGB-id PNGs + segments_info JSON).
Stuff-only semantic labels, for PanopticFPN's semantic branch: 0 for every thing
pixel, ``1 + j`` for the j-th stuff class, 255 as above.

Outputs are cached in ``<json stem>_seg_d2/`` beside the JSON, stamped with the
JSON's sha256, rebuilt when it changes, and put in place only once complete. The
evaluation JSON (cheap) and the PNGs (one pass over every mask) are cached apart,
so instance training never waits for the PNGs.
"""
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass

import numpy as np
from panopticapi.utils import id2rgb
from PIL import Image

from ..atomic import write_text_atomically
from .masks import segmentation_to_mask

__all__ = [
    "DerivedGroundTruth",
    "derive_evaluation_json",
    "derive_pixel_ground_truth",
    "derived_ground_truth_paths",
]

logger = logging.getLogger(__name__)

IGNORE_LABEL = 255
# Bump when the derivation changes, so caches built by older code are rebuilt.
_DERIVATION_VERSION = "2"


@dataclass(frozen=True)
class DerivedGroundTruth:
    sem_seg_root: str
    panoptic_stuff_root: str
    panoptic_root: str
    panoptic_json: str
    # The instances JSON to evaluate COCO AP against: things only, skipped
    # annotations left out.
    evaluation_json: str


def derived_ground_truth_paths(json_file):
    stem = os.path.splitext(os.path.basename(json_file))[0]
    root = os.path.join(os.path.dirname(os.path.abspath(json_file)), f"{stem}_seg_d2")
    return DerivedGroundTruth(
        sem_seg_root=os.path.join(root, "pixels", "sem_seg"),
        panoptic_stuff_root=os.path.join(root, "pixels", "panoptic_stuff"),
        panoptic_root=os.path.join(root, "pixels", "panoptic"),
        panoptic_json=os.path.join(root, "pixels", "panoptic.json"),
        evaluation_json=os.path.join(root, "instances_eval.json"),
    )


def png_name(file_name):
    return os.path.splitext(file_name)[0] + ".png"


def _stamp(json_file):
    digest = hashlib.sha256()
    with open(json_file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{_DERIVATION_VERSION} {digest.hexdigest()}"


def paint_image(image, annotations, layout):
    """(semantic HxW uint8, panoptic-id HxW int32, segments_info) for one image.
    A segment covered entirely by later ones has no pixel and is left out."""
    height, width = image["height"], image["width"]
    contiguous = layout.contiguous_id
    things = set(layout.thing_ids)
    background = layout.background_id
    semantic = np.full((height, width), IGNORE_LABEL, dtype=np.uint8)
    panoptic = np.zeros((height, width), dtype=np.int32)
    segments = []

    def new_segment(category_id, iscrowd):
        segments.append({"id": len(segments) + 1, "category_id": category_id, "iscrowd": iscrowd})
        return len(segments)

    if background is not None:
        semantic[:] = contiguous[background]
        panoptic[:] = new_segment(background, 0)
    stuff_segment = {}
    ordered = sorted(annotations, key=lambda a: (a["category_id"] in things and not a.get("iscrowd", 0),
                                                  bool(a.get("iscrowd", 0))))
    for annotation in ordered:
        mask = segmentation_to_mask(annotation["segmentation"], height, width).astype(bool)
        category_id = annotation["category_id"]
        if annotation.get("iscrowd", 0):
            semantic[mask] = IGNORE_LABEL
            panoptic[mask] = new_segment(category_id, 1)
        elif category_id in things:
            semantic[mask] = contiguous[category_id]
            panoptic[mask] = new_segment(category_id, 0)
        else:
            if category_id not in stuff_segment:
                stuff_segment[category_id] = new_segment(category_id, 0)
            semantic[mask] = contiguous[category_id]
            panoptic[mask] = stuff_segment[category_id]
    return semantic, panoptic, _segments_info(panoptic, segments)


def _segments_info(panoptic, segments):
    """Area and bbox from the painted map; fully covered segments are dropped."""
    areas = np.bincount(panoptic.ravel(), minlength=len(segments) + 1)
    info = []
    for segment in segments:
        area = int(areas[segment["id"]])
        if area == 0:
            continue
        ys, xs = np.nonzero(panoptic == segment["id"])
        x0, y0 = int(xs.min()), int(ys.min())
        bbox = [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]
        info.append({**segment, "area": area, "bbox": bbox})
    return info


def _kept_annotations(dataset, skipped_ids):
    return [a for a in dataset.get("annotations", []) if a["id"] not in skipped_ids]


def _write_pixels(target, dataset, layout, skipped_ids):
    images = sorted(dataset["images"], key=lambda image: image["id"])
    per_image = {image["id"]: [] for image in images}
    for annotation in _kept_annotations(dataset, skipped_ids):
        per_image[annotation["image_id"]].append(annotation)
    panoptic_annotations = []
    stuff_ids = set(layout.stuff_ids)

    def own_segment(item):  # stuff regions share one segment per category
        return bool(item.get("iscrowd", 0)) or item["category_id"] not in stuff_ids

    stuff_only = layout.stuff_only_label_table()
    hidden = 0
    for image in images:
        semantic, panoptic, segments_info = paint_image(image, per_image[image["id"]], layout)
        name = png_name(image["file_name"])
        for folder, array in (("sem_seg", semantic), ("panoptic_stuff", stuff_only[semantic]),
                              ("panoptic", id2rgb(panoptic))):
            path = os.path.join(target, folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Image.fromarray(array).save(path)
        panoptic_annotations.append({"image_id": image["id"], "file_name": name, "segments_info": segments_info})
        hidden += sum(map(own_segment, per_image[image["id"]])) - sum(map(own_segment, segments_info))
    if hidden:
        logger.warning("%s: %d annotation(s) are covered entirely by later ones and have no panoptic segment",
                       target, hidden)
    with open(os.path.join(target, "panoptic.json"), "w") as f:
        json.dump({"images": images, "annotations": panoptic_annotations,
                   "categories": layout.coco_categories()}, f)


def derive_evaluation_json(json_file, dataset, layout, skipped_ids):
    """Write (or reuse) the instances JSON COCO AP is computed against; return its path."""
    path = derived_ground_truth_paths(json_file).evaluation_json
    stamp, stamp_file = _stamp(json_file), path + ".source"
    if os.path.isfile(stamp_file) and open(stamp_file).read() == stamp:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    things = set(layout.thing_ids)
    write_text_atomically(path, json.dumps({
        "images": dataset["images"],
        "annotations": [a for a in _kept_annotations(dataset, skipped_ids) if a["category_id"] in things],
        "categories": [c for c in dataset["categories"] if c["id"] in things],
    }))
    write_text_atomically(stamp_file, stamp)
    return path


def derive_pixel_ground_truth(json_file, dataset, layout, skipped_ids):
    """Build (or reuse) the semantic and panoptic ground truth of ``json_file``, whose
    parsed content is ``dataset``; return the paths of everything derived."""
    paths = derived_ground_truth_paths(json_file)
    root = os.path.dirname(paths.panoptic_json)
    stamp = _stamp(json_file)
    stamp_file = os.path.join(root, "SOURCE")
    if os.path.isfile(stamp_file) and open(stamp_file).read() == stamp:
        return paths
    logger.info("deriving semantic and panoptic ground truth of %s into %s", json_file, root)
    building = f"{root}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    os.makedirs(building)
    _write_pixels(building, dataset, layout, skipped_ids)
    with open(os.path.join(building, "SOURCE"), "w") as f:
        f.write(stamp)
    stale = f"{root}.stale-{os.getpid()}"
    if os.path.exists(root):
        os.rename(root, stale)
    os.rename(building, root)
    shutil.rmtree(stale, ignore_errors=True)
    return paths
