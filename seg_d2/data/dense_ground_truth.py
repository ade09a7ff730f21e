"""Semantic and panoptic ground truth derived from a COCO instances JSON.

Painting order, which decides overlaps: stuff regions, then crowd regions, then
thing instances in annotation order (a later instance covers an earlier one).
Semantic labels: the contiguous thing+stuff index of ``ClassSpaces``, 255 for
crowd regions and, when the dataset has stuff categories of its own, for pixels
nothing covers (with only things, those pixels are "background"). Panoptic: one
segment per thing instance, per crowd region (``iscrowd`` 1) and per stuff
category present, in COCO panoptic format (RGB-id PNGs + segments_info JSON).
Stuff-only semantic labels, for PanopticFPN's semantic branch: 0 for every thing
pixel, ``1 + j`` for the j-th stuff class, 255 as above.

Outputs are a cache, not a side effect on the user's data: they live in
``<json stem>_seg_d2/`` beside the JSON when that folder is writable and
``SEG_D2_CACHE_DIR`` is not set, else in ``$SEG_D2_CACHE_DIR`` (default
``~/.cache/seg_d2/derived``) under ``<json stem>-<hash of the JSON's path>/``. Each part is
stamped with the JSON's sha256, rebuilt when it changes, built by one process while
others wait, and put in place only once complete (``seg_d2.atomic_files.build_folder_once``).
The evaluation JSON (cheap) and the PNGs (one pass over every mask) are cached apart,
so instance training never waits for the PNGs. The PNGs are painted a chunk of images at
a time in as many processes as this one may use; a derivation interrupted (Ctrl-C, a
killed process) leaves its finished chunks in ``pixels.building/`` and the next one goes
on from them, unless the JSON changed meanwhile; one that fails leaves nothing.
"""

import functools
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import orjson
from panopticapi.utils import id2rgb
from PIL import Image

from ..atomic_files import build_folder_once, write_text_atomically
from ..env import cache_folder
from .image_io import relative_image_path
from .masks import segmentation_to_mask

__all__ = [
    "DerivedGroundTruth",
    "derived_png_name",
    "derive_evaluation_json",
    "derive_pixel_ground_truth",
    "derived_ground_truth_paths",
    "derived_root",
    "file_digest",
    "usable_processes",
]

logger = logging.getLogger(__name__)

IGNORE_LABEL = 255
# Bump when the derivation changes, so caches built by older code are rebuilt.
_DERIVATION_VERSION = "4"
CACHE_DIR_VARIABLE = "SEG_D2_CACHE_DIR"


@dataclass(frozen=True)
class DerivedGroundTruth:
    sem_seg_root: str
    panoptic_stuff_root: str
    panoptic_root: str
    panoptic_json: str
    # The instances JSON to evaluate COCO AP against: things only, skipped
    # annotations left out.
    evaluation_json: str


def _nearest_existing(folder):
    """``folder``, or its nearest existing ancestor (where a folder not made yet would be made)."""
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def derived_root(json_file):
    """Where the ground truth derived from ``json_file`` lives (module docstring)."""
    json_file = os.path.abspath(json_file)
    folder, stem = os.path.dirname(json_file), os.path.splitext(os.path.basename(json_file))[0]
    cache_dir = os.environ.get(CACHE_DIR_VARIABLE)
    if not cache_dir and os.access(_nearest_existing(folder), os.W_OK):
        return os.path.join(folder, f"{stem}_seg_d2")
    cache_dir = cache_dir or cache_folder("derived")
    path_key = hashlib.sha256(json_file.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return os.path.join(cache_dir, f"{stem}-{path_key}")


def derived_ground_truth_paths(json_file):
    root = derived_root(json_file)
    return DerivedGroundTruth(
        sem_seg_root=os.path.join(root, "pixels", "sem_seg"),
        panoptic_stuff_root=os.path.join(root, "pixels", "panoptic_stuff"),
        panoptic_root=os.path.join(root, "pixels", "panoptic"),
        panoptic_json=os.path.join(root, "pixels", "panoptic.json"),
        evaluation_json=os.path.join(root, "evaluation", "instances_eval.json"),
    )


def png_name(file_name):
    """The label PNG of an image, as a dataset's own label folders name them."""
    return os.path.splitext(file_name)[0] + ".png"


def derived_png_name(file_name):
    """The derived PNG of a dataset image: its path in the image folder, extension included
    (``a.jpg`` and ``a.png`` get ``a.jpg.png`` and ``a.png.png``, never one file)."""
    return relative_image_path(file_name) + ".png"


@functools.lru_cache(maxsize=16)
def _sha256(path, version):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path):
    """The sha256 of ``path``, read once per version of the file (its inode, modification
    time and size): a COCO-size JSON is 450 MB, and registering it asks for it more than once."""
    stat = os.stat(path)
    return _sha256(os.path.abspath(path), (stat.st_ino, stat.st_mtime_ns, stat.st_size))


def _stamp(json_file):
    return f"{_DERIVATION_VERSION} {file_digest(json_file)}"


def paint_image(image, annotations, class_spaces):
    """(semantic HxW uint8, panoptic-id HxW int32, segments_info) for one image.
    A segment covered entirely by later ones has no pixel and is left out."""
    height, width = image["height"], image["width"]
    contiguous = class_spaces.contiguous_id
    things = set(class_spaces.thing_ids)
    background = class_spaces.background_id
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
    ordered = sorted(
        annotations,
        key=lambda a: (
            a["category_id"] in things and not a.get("iscrowd", 0),
            bool(a.get("iscrowd", 0)),
        ),
    )
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


# Images per unit of work: what a worker process paints at a time, and what an
# interrupted derivation loses at most.
_CHUNK_IMAGES = 250


def _own_segment(item, stuff_ids):
    """Whether an annotation gets a panoptic segment of its own (stuff regions share one
    per category)."""
    return bool(item.get("iscrowd", 0)) or item["category_id"] not in stuff_ids


def _chunk_record(target, index):
    return os.path.join(target, "chunks", f"{index}.json")


def _paint_chunk(target, index, images, class_spaces):
    """Paint and write the PNGs of ``images`` (each with its annotations), then the chunk's
    record: its panoptic annotations and how many annotations no pixel is left to."""
    stuff_only = class_spaces.stuff_only_label_table()
    stuff_ids = set(class_spaces.stuff_ids)
    panoptic_annotations, hidden = [], 0
    for image, annotations in images:
        semantic, panoptic, segments_info = paint_image(image, annotations, class_spaces)
        name = derived_png_name(image["file_name"])
        for folder, array in (
            ("sem_seg", semantic),
            ("panoptic_stuff", stuff_only[semantic]),
            ("panoptic", id2rgb(panoptic)),
        ):
            path = os.path.join(target, folder, name)  # inside: validation refused others
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Image.fromarray(array).save(path)
        panoptic_annotations.append(
            {"image_id": image["id"], "file_name": name, "segments_info": segments_info}
        )
        hidden += sum(_own_segment(a, stuff_ids) for a in annotations) - sum(
            _own_segment(s, stuff_ids) for s in segments_info
        )
    record = _chunk_record(target, index)
    os.makedirs(os.path.dirname(record), exist_ok=True)
    write_text_atomically(
        record, json.dumps({"annotations": panoptic_annotations, "hidden": hidden})
    )


def usable_processes():
    """The processes to work in: the cores this one may use, or itself alone where it may
    not start processes (a daemon, as a data loader's worker is)."""
    if multiprocessing.current_process().daemon:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _write_pixels(target, json_file, dataset, skipped_ids, class_spaces):
    """The PNGs and panoptic JSON into ``target``; a warning naming ``json_file`` counts
    the annotations no pixel is left to (``target`` is a folder renamed when complete).
    Images are painted a chunk at a time, in as many processes as this one may use, and a
    chunk whose record ``target`` already holds (an interrupted derivation's) is not
    painted again."""
    images = sorted(dataset["images"], key=lambda image: image["id"])
    per_image = {image["id"]: [] for image in images}
    for annotation in _kept_annotations(dataset, skipped_ids):
        per_image[annotation["image_id"]].append(annotation)
    chunks = [images[i : i + _CHUNK_IMAGES] for i in range(0, len(images), _CHUNK_IMAGES)]
    todo = [i for i in range(len(chunks)) if not os.path.exists(_chunk_record(target, i))]
    if len(todo) < len(chunks):
        logger.info(
            "%s: resuming, %d of %d chunks of images derived",
            json_file,
            len(chunks) - len(todo),
            len(chunks),
        )
    jobs = [
        (target, i, [(image, per_image[image["id"]]) for image in chunks[i]], class_spaces)
        for i in todo
    ]
    processes = min(usable_processes() or 1, len(jobs))
    if processes > 1:
        with ProcessPoolExecutor(processes) as pool:
            for _ in pool.map(_paint_chunk, *zip(*jobs)):
                pass
    else:
        for job in jobs:
            _paint_chunk(*job)
    panoptic_annotations, hidden = [], 0
    for index in range(len(chunks)):
        with open(_chunk_record(target, index)) as f:
            record = json.load(f)
        panoptic_annotations += record["annotations"]
        hidden += record["hidden"]
    shutil.rmtree(os.path.join(target, "chunks"), ignore_errors=True)
    if hidden:
        logger.warning(
            "%s: %d annotation(s) are covered entirely by later ones and have no panoptic segment",
            json_file,
            hidden,
        )
    with open(os.path.join(target, "panoptic.json"), "wb") as f:
        _dump_json(
            {
                "images": images,
                "annotations": panoptic_annotations,
                "categories": class_spaces.coco_categories(),
            },
            f,
        )


_JSON_CHUNK = 10_000


def _dump_json(lists, f):
    """Write a dict of lists as JSON to the binary file ``f``, a chunk of items at a time
    (never the whole text in memory), by orjson (ten times the json module's speed: seconds
    at COCO's size). The text stays ASCII, as ``json.dumps`` writes it, for the readers
    (pycocotools, panopticapi) that open it in the locale's encoding: a chunk that holds
    other characters (or file names not in UTF-8, which orjson refuses) is written by the
    json module, which escapes them."""
    f.write(b"{")
    for index, (key, items) in enumerate(lists.items()):
        f.write(b"%s%s: [" % (b", " if index else b"", json.dumps(key).encode("ascii")))
        for start in range(0, len(items), _JSON_CHUNK):
            chunk = items[start : start + _JSON_CHUNK]
            try:
                text = orjson.dumps(chunk)
            except orjson.JSONEncodeError:  # a lone surrogate: a file name not in UTF-8
                text = None
            if text is None or not text.isascii():
                text = json.dumps(chunk).encode("ascii")
            f.write((b", " if start else b"") + text[1:-1])
        f.write(b"]")
    f.write(b"}")


def derive_evaluation_json(paths, json_file, load, class_spaces):
    """Write (or reuse) the instances JSON COCO AP is computed against, at ``paths`` (the
    ``derived_ground_truth_paths`` decided when the dataset was registered); return its path.
    ``load()`` gives the parsed JSON and the ids of the annotations to leave out, called
    only to build: a COCO-size JSON takes seconds to parse."""
    path = paths.evaluation_json
    things = set(class_spaces.thing_ids)

    def build(folder):
        dataset, skipped_ids = load()
        with open(os.path.join(folder, os.path.basename(path)), "wb") as f:
            _dump_json(
                {
                    "images": dataset["images"],
                    "annotations": [
                        a
                        for a in _kept_annotations(dataset, skipped_ids)
                        if a["category_id"] in things
                    ],
                    "categories": [c for c in dataset["categories"] if c["id"] in things],
                },
                f,
            )

    build_folder_once(os.path.dirname(path), _stamp(json_file), build)
    return path


def derive_pixel_ground_truth(paths, json_file, load, class_spaces):
    """Build (or reuse) the semantic and panoptic ground truth of ``json_file`` at
    ``paths``; return them. ``load`` as for ``derive_evaluation_json``."""
    root = os.path.dirname(paths.panoptic_json)

    def build(folder):
        logger.info("deriving semantic and panoptic ground truth of %s into %s", json_file, root)
        _write_pixels(folder, json_file, *load(), class_spaces)

    build_folder_once(root, _stamp(json_file), build, resumable=True)
    return paths
