"""Layouts that give instances as masks: one PNG per instance, one instance-id PNG per
image, semantic label PNGs (+ optional instance-id PNGs)."""

import json
import logging
import os

import cv2
import numpy as np

from ..image_io import IMAGE_EXTENSIONS
from .builder import CocoBuilder, read_label_png

__all__ = ["from_instance_pngs", "from_mask_folders", "from_semantic_pngs"]

LABEL_EXTENSIONS = (".png", ".tif", ".tiff", ".bmp")
# Suffixes a label file's name may add to its image's, as published datasets name them.
LABEL_SUFFIXES = (
    "_mask",
    "_masks",
    "-mask",
    "_label",
    "_labels",
    "_instances",
    "_instance",
    "_ids",
    "_gt",
    "_seg",
    "_annotation",
)

logger = logging.getLogger(__name__)


def _files_by_stem(folder, extensions):
    """Relative path without extension -> path, for the files under ``folder``."""
    found = {}
    for directory, _, names in os.walk(folder):
        for name in sorted(names):
            stem, extension = os.path.splitext(name)
            if extension.lower() in extensions:
                relative = os.path.relpath(os.path.join(directory, stem), folder)
                found[relative] = os.path.join(directory, name)
    return dict(sorted(found.items()))


def _by_image_stem(images, labels):
    """``labels`` keyed by the image stem each belongs to, and the suffix that was removed
    for it: names as the images', or with one suffix of ``LABEL_SUFFIXES`` more (PennFudan's
    ``FudanPed00001_mask.png`` for ``FudanPed00001.png``), whichever pairs the most."""
    best, best_suffix = labels, ""
    paired = len(images.keys() & labels.keys())
    for suffix in LABEL_SUFFIXES:
        stripped = {
            stem[: -len(suffix)] if stem.endswith(suffix) else stem: path
            for stem, path in labels.items()
        }
        if len(images.keys() & stripped.keys()) > paired:
            best, best_suffix, paired = stripped, suffix, len(images.keys() & stripped.keys())
    return best, best_suffix


def _paired(builder, images_dir, labels_dir, what):
    """(image path, label path) pairs matched by relative path, with or without a suffix of
    the label's (``_by_image_stem``, logged); an image without its label file, or a label
    file without its image, is an error, and no pair at all is one."""
    images = _files_by_stem(images_dir, IMAGE_EXTENSIONS)
    labels, suffix = _by_image_stem(images, _files_by_stem(labels_dir, LABEL_EXTENSIONS))
    if suffix:
        logger.info("%s files matched to their images by name with %r removed", what, suffix)
    if images and labels and not images.keys() & labels.keys():
        builder.error(
            f"no image in {images_dir} has its {what} in {labels_dir} by name (images such as "
            f"{os.path.basename(next(iter(images.values())))}, {what}s such as "
            f"{os.path.basename(next(iter(labels.values())))}): are these the right folders?"
        )
        return []
    for stem in sorted(images.keys() - labels.keys()):
        builder.error(f"image {images[stem]} has no {what} in {labels_dir}")
    for stem in sorted(labels.keys() - images.keys()):
        builder.error(f"{what} {labels[stem]} has no image in {images_dir}")
    return [(images[stem], labels[stem]) for stem in images if stem in labels]


def from_mask_folders(root, category="object", images_subdir="images", masks_subdir="masks"):
    """``root/<sample>/images/<one image>`` and ``root/<sample>/masks/*.png``, one binary mask
    per instance (the Kaggle Data Science Bowl 2018 layout)."""
    builder = CocoBuilder(root)
    category_id = builder.category_id(category)
    for sample in sorted(os.listdir(root)):
        folder = os.path.join(root, sample)
        if not os.path.isdir(folder):
            continue
        image_files = list(
            _files_by_stem(os.path.join(folder, images_subdir), IMAGE_EXTENSIONS).values()
        )
        if len(image_files) != 1:
            builder.error(
                f"{os.path.join(folder, images_subdir)} holds {len(image_files)} images, not 1"
            )
            continue
        image = builder.add_image(image_files[0])
        if image is None:
            continue
        mask_files = list(
            _files_by_stem(os.path.join(folder, masks_subdir), LABEL_EXTENSIONS).values()
        )
        for mask_file in mask_files:
            builder.add_mask(image, category_id, read_label_png(mask_file) > 0, f"mask {mask_file}")
    return builder


def _instance_classes(class_map, relative_stem, instance_ids, builder, where):
    """Instance id -> class name from a class map, naming ids the map and the PNG disagree on."""
    classes = class_map.get(relative_stem)
    if classes is None:
        builder.error(f"{where}: the class map has no entry {relative_stem!r}")
        return None
    classes = {int(k): v for k, v in classes.items()}
    missing = sorted(set(instance_ids) - classes.keys())
    extra = sorted(classes.keys() - set(instance_ids))
    if missing or extra:
        builder.error(
            f"{where}: instance ids {missing} have no class in the class map, "
            f"and its ids {extra} are not in the PNG"
            if missing and extra
            else f"{where}: instance ids {missing} have no class in the class map"
            if missing
            else f"{where}: the class map's ids {extra} are not in the PNG"
        )
        return None
    return classes


def from_instance_pngs(
    images_dir, instances_dir, category="object", class_map=None, class_from_folder=False
):
    """One instance-id PNG per image, named like it (0 = background, k = instance k). The
    class of every instance is ``category``, the image's first sub-folder under
    ``images_dir`` (``class_from_folder``), or ``class_map[image stem][str(k)]`` (a JSON file)."""
    builder = CocoBuilder(images_dir)
    if class_map is not None:
        with open(class_map, encoding="utf-8") as f:
            class_map = json.load(f)
    for image_file, label_file in _paired(builder, images_dir, instances_dir, "instance PNG"):
        image = builder.add_image(image_file)
        if image is None:
            continue
        ids = read_label_png(label_file)
        instance_ids = [int(k) for k in np.unique(ids) if k != 0]
        relative_stem = os.path.splitext(os.path.relpath(image_file, images_dir))[0]
        if class_map is not None:
            classes = _instance_classes(
                class_map, relative_stem, instance_ids, builder, f"instance PNG {label_file}"
            )
            if classes is None:
                continue
        elif class_from_folder:
            parts = relative_stem.split(os.sep)
            if len(parts) < 2:
                builder.error(f"image {image_file} is not in a class folder under {images_dir}")
                continue
            classes = dict.fromkeys(instance_ids, parts[0])
        else:
            classes = dict.fromkeys(instance_ids, category)
        if not instance_ids:
            continue
        for k in instance_ids:
            builder.add_mask(
                image, builder.category_id(classes[k]), ids == k, f"instance {k} of {label_file}"
            )
    return builder


def _read_class_names(classes):
    """Label value -> class name from "0=background,1=road" or a file of lines "name" (the
    line number is the value) or "value name"."""
    if os.path.isfile(classes):
        with open(classes, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
        pairs = [
            line.split(None, 1)
            if line.split(None, 1)[0].isdigit() and " " in line
            else (str(i), line)
            for i, line in enumerate(lines)
        ]
    else:
        pairs = [item.split("=", 1) for item in classes.split(",")]
    try:
        return {int(value): name.strip() for value, name in pairs}
    except ValueError:
        raise ValueError(
            f"--classes {classes!r}: expected value=name pairs or a file of class names"
        ) from None


def from_semantic_pngs(
    images_dir, labels_dir, classes, instances_dir=None, things=(), ignore_value=255
):
    """Semantic label PNGs named like the images (values are classes, ``ignore_value`` is
    unlabelled). Classes named in ``things`` become instance classes: their instances
    are the regions of ``instances_dir``'s instance-id PNGs when given, else the
    connected components of their label; every other class becomes stuff
    (``isthing`` 0), one region per image."""
    builder = CocoBuilder(images_dir)
    names = _read_class_names(classes)
    unknown = sorted(set(things) - set(names.values()))
    if unknown:
        raise ValueError(
            f"thing classes {unknown} are not among the classes {sorted(names.values())}"
        )
    ids = {
        value: builder.category_id(name, isthing=name in things)
        for value, name in sorted(names.items())
    }
    instance_files = (
        dict(_paired(builder, images_dir, instances_dir, "instance PNG")) if instances_dir else {}
    )
    for image_file, label_file in _paired(builder, images_dir, labels_dir, "label PNG"):
        image = builder.add_image(image_file)
        if image is None:
            continue
        labels = read_label_png(label_file)
        present = set(np.unique(labels).tolist()) - {ignore_value}
        if present - names.keys():
            builder.error(
                f"label PNG {label_file}: values {sorted(present - names.keys())} are not in the "
                "classes"
            )
            continue
        instances = (
            read_label_png(instance_files[image_file]) if image_file in instance_files else None
        )
        for value in sorted(present):
            region = labels == value
            where = f"class {names[value]!r} of {label_file}"
            if names[value] not in things:
                builder.add_mask(image, ids[value], region, where)
            elif instances is not None:
                for k in np.unique(instances[region]):
                    if k != 0:
                        builder.add_mask(
                            image, ids[value], region & (instances == k), f"instance {k} in {where}"
                        )
            else:
                count, components = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
                for k in range(1, count):
                    builder.add_mask(
                        image, ids[value], components == k, f"component {k} of {where}"
                    )
    return builder
