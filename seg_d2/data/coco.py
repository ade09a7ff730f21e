"""Register a COCO-format dataset once, get it for all three tasks.

``register_coco_dataset("mydata", "instances.json", "images/")`` registers

* ``mydata``            instances (Mask R-CNN; evaluator ``coco``),
* ``mydata_sem_seg``    one label per pixel (evaluator ``sem_seg``),
* ``mydata_panoptic``   COCO panoptic (evaluator ``coco_panoptic_seg``),
* ``mydata_panoptic_separated``  instances + stuff-only semantic labels, for
  PanopticFPN, evaluated against the panoptic ground truth, as detectron2's
  ``coco_2017_*_panoptic_separated``,

the last three derived from the instances JSON (see ``dense_ground_truth.py``) unless semantic
PNGs or COCO panoptic annotations are given. Loading validates the dataset first
(see ``validate.py``), once for all processes (``validation_cache.py``).
"""

import json
import logging
import os
from collections import defaultdict
from operator import itemgetter

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from pycocotools import mask as mask_util

from ..errors import ConfigError
from .categories import ClassSpaces
from .dense_ground_truth import (
    derive_evaluation_json,
    derive_pixel_ground_truth,
    derived_ground_truth_paths,
    derived_png_name,
    png_name,
)
from .masks import usable_polygons
from .validate import (
    ValidationReport,
    cyclic_gc_paused,
    read_coco_json,
    validate_coco_dataset,
    well_formed_categories,
)
from .validation_cache import cached_skips, keep_skips

__all__ = [
    "ensure_derived_files",
    "register_coco_dataset",
    "instance_records",
    "load_coco_instances",
    "register_coco_format_datasets",
]

logger = logging.getLogger(__name__)

SEM_SEG_SUFFIX = "_sem_seg"
PANOPTIC_SUFFIX = "_panoptic"
SEPARATED_SUFFIX = "_panoptic_separated"

# Registered dataset name -> what makes the derived files its metadata names exist.
_DERIVED_FILES = {}


def ensure_derived_files(dataset_name):
    """Make sure the files that ``dataset_name``'s metadata points at (evaluation JSON,
    semantic and panoptic PNGs) exist, deriving them if needed: call it before reading
    them without loading the dataset (evaluators, visualization). A no-op for datasets
    seg_d2 did not register."""
    ensure = _DERIVED_FILES.get(dataset_name)
    if ensure is not None:
        ensure()


class _CocoSource:
    """A validated COCO JSON and what follows from it, computed on first use and
    again whenever the JSON changes. Where derived files go is decided once, here: the
    metadata names these paths, so deriving must not decide again (the JSON's folder
    may only be made later, e.g. by ``prepare``). The JSON is parsed once for validation,
    records and derived files: at COCO's size a parse takes longer than all the rest."""

    def __init__(self, json_file, image_root, class_spaces, prepare=None, parsed=None):
        self.json_file = json_file
        self.image_root = image_root
        self.class_spaces = class_spaces
        self.derived = derived_ground_truth_paths(json_file)
        self._prepare = prepare
        # (the parsed JSON, the file version it was read at): registration's parse
        # serves the first load
        self._dataset, self._dataset_version = parsed or (None, None)
        self._skipped = None
        self._validated_version = None

    def _parse(self, version):
        if version != self._dataset_version:
            self._dataset, self._dataset_version = read_coco_json(self.json_file), version
        return self._dataset

    def skipped(self):
        """Validate the JSON (on first use and whenever it changes, unless an earlier
        process did: ``validation_cache``); the ids of the annotations validation skipped."""
        if self._prepare is not None:
            self._prepare()
        version = _file_version(self.json_file)
        if version != self._validated_version:
            skipped = cached_skips(self.json_file, self.image_root)
            if skipped is None:
                report = validate_coco_dataset(
                    self.json_file, self.image_root, dataset=self._parse(version)
                )
                report.raise_if_errors()
                skipped = report.skipped
                keep_skips(self.json_file, self.image_root, skipped)
            ValidationReport(self.json_file, skipped=skipped).log_skips()
            self._skipped = set(skipped)
            self._validated_version = version
        return self._skipped

    def load(self):
        """(the parsed, validated JSON, the ids of the annotations validation skipped)."""
        skipped = self.skipped()
        return self._parse(self._validated_version), skipped

    def release(self):
        """Let go of the parsed JSON (validation's result is kept): the records made from it
        are all a training holds, so that a COCO-size dataset is not held twice."""
        self._dataset = self._dataset_version = None

    def derive_evaluation_json(self):
        self.skipped()  # validated before anything is derived, even from a cache
        return derive_evaluation_json(self.derived, self.json_file, self.load, self.class_spaces)

    def derive_pixels(self):
        self.skipped()
        return derive_pixel_ground_truth(self.derived, self.json_file, self.load, self.class_spaces)


def _file_version(path):
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


def _read_with_version(json_file):
    """(the parsed JSON, the file's version taken before reading it: a file changed while
    it is read is parsed again at its first load). A file that cannot be read is
    ``read_coco_json``'s error, which names it."""
    try:
        version = _file_version(json_file)
    except OSError:
        version = None
    return read_coco_json(json_file), version


def _instance(annotation, contiguous_id):
    """One annotation as ``load_coco_json`` makes it (its keys, uncompressed RLE compressed,
    polygons of fewer than 3 points left out), its category id made contiguous."""
    instance = {key: annotation[key] for key in ("iscrowd", "bbox", "id") if key in annotation}
    segmentation = annotation["segmentation"]
    if isinstance(segmentation, dict):
        if isinstance(segmentation["counts"], list):
            segmentation = mask_util.frPyObjects(segmentation, *segmentation["size"])
    else:
        segmentation = usable_polygons(segmentation)
    instance.update(
        category_id=contiguous_id[annotation["category_id"]],
        segmentation=segmentation,
        bbox_mode=BoxMode.XYWH_ABS,
    )
    return instance


def instance_records(dataset, image_root, skipped, class_spaces):
    """detectron2's dataset dicts of a validated COCO JSON's thing annotations, as
    detectron2's ``load_coco_json`` makes them (images by id, annotations in file order),
    category ids contiguous, the ``skipped`` annotation ids left out. Made from the
    parse validation read: ``load_coco_json`` would parse the file again and check again
    what validation has checked, twice the time at COCO's size."""
    contiguous_id = class_spaces.contiguous_id
    things = set(class_spaces.thing_ids)
    instances = defaultdict(list)
    for annotation in dataset["annotations"]:
        if annotation["category_id"] in things and annotation["id"] not in skipped:
            instances[annotation["image_id"]].append(_instance(annotation, contiguous_id))
    return [
        {
            "file_name": os.path.join(image_root, image["file_name"]),
            "height": image["height"],
            "width": image["width"],
            "image_id": image["id"],
            "annotations": instances.pop(image["id"], []),
        }
        for image in sorted(dataset["images"], key=itemgetter("id"))
    ]


def load_coco_instances(source):
    """detectron2 dataset dicts of the thing annotations, category ids contiguous."""
    with cyclic_gc_paused():
        dataset, skipped = source.load()
        source.derive_evaluation_json()
        records = instance_records(dataset, source.image_root, skipped, source.class_spaces)
    source.release()
    return records


def _load_semantic(source, sem_seg_root):
    dataset, _ = source.load()
    root = sem_seg_root or source.derive_pixels().sem_seg_root
    label_name = png_name if sem_seg_root else derived_png_name
    return [
        {
            "file_name": os.path.join(source.image_root, image["file_name"]),
            "sem_seg_file_name": os.path.join(root, label_name(image["file_name"])),
            "height": image["height"],
            "width": image["width"],
            "image_id": image["id"],
        }
        for image in sorted(dataset["images"], key=lambda image: image["id"])
    ]


def _load_separated(source):
    root = source.derive_pixels().panoptic_stuff_root  # from the parse the records use next
    records = load_coco_instances(source)
    for record in records:
        relative = os.path.relpath(record["file_name"], source.image_root)
        record["sem_seg_file_name"] = os.path.join(root, derived_png_name(relative))
    return records


def _load_panoptic(source, panoptic_json, panoptic_root, metadata):
    """detectron2's panoptic records (as ``load_coco_panoptic_json`` makes them), with each
    image's own file name: detectron2's loader assumes COCO's ".jpg" for every image."""
    dataset, _ = source.load()
    source.derive_evaluation_json()
    if panoptic_json is None:
        derived = source.derive_pixels()
        panoptic_json, panoptic_root = derived.panoptic_json, derived.panoptic_root
    with open(panoptic_json, encoding="utf-8") as f:
        annotations = json.load(f)["annotations"]
    file_names = {image["id"]: image["file_name"] for image in dataset["images"]}
    things, stuff = (
        metadata["thing_dataset_id_to_contiguous_id"],
        metadata["stuff_dataset_id_to_contiguous_id"],
    )

    def segment(info):
        isthing = info["category_id"] in things
        return {
            **info,
            "category_id": (things if isthing else stuff)[info["category_id"]],
            "isthing": isthing,
        }

    return [
        {
            "file_name": os.path.join(source.image_root, file_names[annotation["image_id"]]),
            "image_id": annotation["image_id"],
            "pan_seg_file_name": os.path.join(panoptic_root, annotation["file_name"]),
            "segments_info": [segment(info) for info in annotation["segments_info"]],
        }
        for annotation in annotations
    ]


def register_coco_dataset(
    name,
    json_file,
    image_root,
    *,
    sem_seg_root=None,
    panoptic_json=None,
    panoptic_root=None,
    categories=None,
    prepare=None,
):
    """Register ``name`` and its ``_sem_seg``, ``_panoptic`` and ``_panoptic_separated``
    variants (module docstring).

    Args:
        sem_seg_root: folder of semantic PNGs named like the images, if the dataset has
            its own (labels in the thing+stuff order of ``ClassSpaces``).
        panoptic_json, panoptic_root: the dataset's own COCO panoptic annotations.
        categories: the COCO category list, when the JSON does not exist yet.
        prepare: called once before the first load (e.g. to generate the data).
    """
    if (panoptic_json is None) != (panoptic_root is None):
        raise ValueError(f"dataset {name!r}: give both panoptic_json and panoptic_root, or neither")
    json_file, image_root = os.fspath(json_file), os.fspath(image_root)
    sem_seg_root, panoptic_json, panoptic_root = (
        None if path is None else os.fspath(path)
        for path in (sem_seg_root, panoptic_json, panoptic_root)
    )
    parsed = None
    if categories is None:
        parsed = _read_with_version(json_file)
        categories = well_formed_categories(json_file, parsed[0])
    class_spaces = ClassSpaces.from_coco_categories(categories)
    source = _CocoSource(json_file, image_root, class_spaces, prepare, parsed)
    derived = source.derived
    common = {"image_root": image_root, "source_json_file": json_file}

    _DERIVED_FILES[name] = source.derive_evaluation_json
    DatasetCatalog.register(name, lambda: load_coco_instances(source))
    MetadataCatalog.get(name).set(
        json_file=derived.evaluation_json,
        evaluator_type="coco",
        **common,
        **class_spaces.instance_metadata(),
    )

    if sem_seg_root is None:
        _DERIVED_FILES[name + SEM_SEG_SUFFIX] = source.derive_pixels
    DatasetCatalog.register(name + SEM_SEG_SUFFIX, lambda: _load_semantic(source, sem_seg_root))
    MetadataCatalog.get(name + SEM_SEG_SUFFIX).set(
        sem_seg_root=sem_seg_root or derived.sem_seg_root,
        evaluator_type="sem_seg",
        **common,
        **class_spaces.semantic_metadata(),
    )

    panoptic_metadata = class_spaces.panoptic_metadata()
    DatasetCatalog.register(
        name + PANOPTIC_SUFFIX,
        lambda: _load_panoptic(source, panoptic_json, panoptic_root, panoptic_metadata),
    )

    def derive_panoptic(pixels_needed):
        source.derive_evaluation_json()
        if pixels_needed:
            source.derive_pixels()

    _DERIVED_FILES[name + PANOPTIC_SUFFIX] = lambda: derive_panoptic(panoptic_json is None)
    _DERIVED_FILES[name + SEPARATED_SUFFIX] = lambda: derive_panoptic(
        True
    )  # its stuff labels are derived
    panoptic_evaluation = {
        "panoptic_json": panoptic_json or derived.panoptic_json,
        "panoptic_root": panoptic_root or derived.panoptic_root,
        "json_file": derived.evaluation_json,
        "evaluator_type": "coco_panoptic_seg",
        "ignore_label": 255,
        "label_divisor": 1000,
    }
    MetadataCatalog.get(name + PANOPTIC_SUFFIX).set(
        **panoptic_evaluation, **common, **panoptic_metadata
    )

    DatasetCatalog.register(name + SEPARATED_SUFFIX, lambda: _load_separated(source))
    MetadataCatalog.get(name + SEPARATED_SUFFIX).set(
        sem_seg_root=derived.panoptic_stuff_root,
        **panoptic_evaluation,
        **common,
        **class_spaces.separated_metadata(),
    )


def register_coco_format_datasets(entries, key="DATASETS.COCO_FORMAT"):
    """Register each ``name=instances.json:image_root`` of ``entries`` (the config's ``key``)
    that is not registered yet; a name registered with other files is an error, not a
    silent switch to those files."""
    for entry in entries:
        name, sep, paths = entry.partition("=")
        json_file, sep2, image_root = paths.rpartition(":")
        if not (sep and sep2 and name and json_file and image_root):
            raise ConfigError(
                f"{key} entry {entry!r} is not of the form name=instances.json:image_root"
            )
        if name not in DatasetCatalog.list():
            register_coco_dataset(name, json_file, image_root)
            continue
        metadata = MetadataCatalog.get(name)
        registered = (
            metadata.get("source_json_file", metadata.get("json_file", "")),
            metadata.get("image_root", ""),
        )
        if [os.path.realpath(p) for p in registered] != [
            os.path.realpath(p) for p in (json_file, image_root)
        ]:
            raise ConfigError(
                f"{key} entry {entry!r}: dataset {name!r} is already registered with "
                f"{registered[0]}:{registered[1]}; give these files another name"
            )
