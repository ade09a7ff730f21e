"""Check a COCO-format dataset before training, and say exactly what is wrong where.

Errors stop: every message names the JSON file and the image id / annotation id
at fault. Annotations that are well-formed but unusable (a polygon of fewer than
3 points, a mask of zero area) are skipped by policy: counted, logged, and
reported, never dropped silently.

    python -m seg_d2.data.validate path/to/instances.json path/to/images [--decode]
"""

import argparse
import json
import logging
import math
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
from PIL import Image, ImageOps
from pycocotools import mask as mask_util
from tabulate import tabulate

from ..errors import DatasetError
from .masks import segmentation_to_rle, usable_polygons

__all__ = [
    "DatasetError",
    "ValidationReport",
    "displayed_size",
    "listed_problems",
    "validate_coco_dataset",
    "read_coco_json",
]

logger = logging.getLogger(__name__)

# Rounding in annotation tools puts boxes up to a pixel past the border.
_BOX_TOLERANCE = 1.0
_MAX_ERRORS_SHOWN = 20


def listed_problems(errors, where):
    """One message listing the first errors, one per line, and how many more there are."""
    shown = "\n  ".join(errors[:_MAX_ERRORS_SHOWN])
    more = len(errors) - _MAX_ERRORS_SHOWN
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return f"{len(errors)} problem(s) {where}:\n  {shown}{tail}"


@dataclass
class ValidationReport:
    json_file: str
    num_images: int = 0
    instances_per_class: Counter = field(default_factory=Counter)
    stuff_regions_per_class: Counter = field(default_factory=Counter)
    num_crowd: int = 0
    mask_areas: List[float] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    # annotation id -> why it is skipped
    skipped: Dict[int, str] = field(default_factory=dict)

    def error(self, message):
        self.errors.append(f"{self.json_file}: {message}")

    def skip(self, annotation, reason):
        self.skipped[annotation["id"]] = reason

    def raise_if_errors(self):
        if self.errors:
            raise DatasetError(listed_problems(self.errors, "in the dataset"))

    def log_skips(self):
        if self.skipped:
            reasons = Counter(self.skipped.values())
            logger.warning(
                "%s: skipping %d unusable annotation(s) (%s); ids: %s",
                self.json_file,
                len(self.skipped),
                ", ".join(f"{n} {r}" for r, n in reasons.items()),
                sorted(self.skipped)[:20],
            )

    def summary(self):
        areas = np.asarray(self.mask_areas or [0.0])
        quantiles = np.quantile(areas, [0.0, 0.25, 0.5, 0.75, 1.0])
        rows = [("images", self.num_images)]
        rows += [(f"instances: {name}", n) for name, n in sorted(self.instances_per_class.items())]
        rows += [
            (f"stuff regions: {name}", n)
            for name, n in sorted(self.stuff_regions_per_class.items())
        ]
        rows += [
            ("crowd regions", self.num_crowd),
            ("mask area min/25%/50%/75%/max", " / ".join(f"{q:.0f}" for q in quantiles)),
            ("skipped annotations", len(self.skipped)),
            ("errors", len(self.errors)),
        ]
        return tabulate(rows, headers=["", self.json_file], tablefmt="github")


def read_coco_json(json_file):
    try:
        with open(json_file, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{json_file}: cannot read the COCO JSON: {e}") from None


def displayed_size(path):
    """(width, height) as detectron2's read_image returns the image: EXIF-rotated."""
    with Image.open(path) as image:
        transposed = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        width, height = image.size
    return (height, width) if transposed else (width, height)


def _fully_decodes(path):
    with Image.open(path) as image:
        ImageOps.exif_transpose(image).load()


def _check_image(report, image, image_root, decode):
    where = f"image id {image['id']} ({image.get('file_name')!r})"
    path = os.path.join(image_root, image.get("file_name", ""))
    if not os.path.isfile(path):
        report.error(f"{where}: image file {path} is missing")
        return
    try:
        width, height = displayed_size(path)
        if decode:
            _fully_decodes(path)
    except Exception as e:  # PIL raises many types for broken files
        report.error(f"{where}: image file {path} cannot be decoded ({type(e).__name__}: {e})")
        return
    if (width, height) != (image.get("width"), image.get("height")):
        report.error(
            f"{where}: the JSON says {image.get('width')}x{image.get('height')} "
            f"but {path} is {width}x{height}"
        )


def _segmentation_area(report, annotation, image, where):
    """The mask area, or None after reporting an error or a skip."""
    segm = annotation.get("segmentation")
    height, width = image["height"], image["width"]
    if isinstance(segm, list):
        numbers = [v for polygon in segm for v in polygon]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers):
            report.error(f"{where}: polygon coordinates must be finite numbers")
            return None
        if not usable_polygons(segm):
            report.skip(annotation, "polygon with fewer than 3 points")
            return None
    elif isinstance(segm, dict):
        if list(segm.get("size", [])) != [height, width]:
            report.error(
                f"{where}: RLE size {segm.get('size')} differs from the image's [{height}, {width}]"
            )
            return None
        counts = segm.get("counts")
        if isinstance(counts, list) and sum(counts) != height * width:
            report.error(f"{where}: RLE counts cover {sum(counts)} pixels, not {height}*{width}")
            return None
    else:
        report.error(f"{where}: no segmentation (polygon list or RLE) given")
        return None
    area = float(mask_util.area(segmentation_to_rle(segm, height, width)))
    if area == 0:
        report.skip(annotation, "mask of zero area")
        return None
    return area


def _check_annotation(report, annotation, images, categories):
    where = f"annotation id {annotation.get('id')} of image id {annotation.get('image_id')}"
    image = images.get(annotation.get("image_id"))
    if image is None:
        report.error(f"{where}: its image id is not among the images")
        return
    category = categories.get(annotation.get("category_id"))
    if category is None:
        report.error(f"{where}: category id {annotation.get('category_id')} is not in 'categories'")
        return
    bbox = annotation.get("bbox")
    if bbox is not None:
        if len(bbox) != 4 or not all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in bbox
        ):
            report.error(f"{where}: bbox {bbox} is not 4 finite numbers")
            return
        x, y, w, h = bbox
        if (
            w < 0
            or h < 0
            or x < -_BOX_TOLERANCE
            or y < -_BOX_TOLERANCE
            or (x + w > image["width"] + _BOX_TOLERANCE or y + h > image["height"] + _BOX_TOLERANCE)
        ):
            report.error(
                f"{where}: bbox {bbox} lies outside the {image['width']}x{image['height']} image"
            )
            return
    area = _segmentation_area(report, annotation, image, where)
    if area is None:
        return
    report.mask_areas.append(area)
    if annotation.get("iscrowd", 0):
        report.num_crowd += 1
    elif category.get("isthing", 1):
        report.instances_per_class[category["name"]] += 1
    else:
        report.stuff_regions_per_class[category["name"]] += 1


def _duplicates(items):
    counts = Counter(item.get("id") for item in items)
    return sorted((i for i, n in counts.items() if n > 1), key=str)


def validate_coco_dataset(json_file, image_root, *, decode_images=False, dataset=None):
    """Check a COCO instances JSON and its images; return a ValidationReport.

    ``dataset`` is the parsed JSON when the caller already has it. Image files are
    opened for their size; ``decode_images`` also decodes every pixel (slower).
    """
    report = ValidationReport(str(json_file))
    dataset = read_coco_json(json_file) if dataset is None else dataset
    images_list = dataset.get("images", [])
    report.num_images = len(images_list)
    if not images_list:
        report.error("the dataset is empty: 'images' lists no image")
        return report
    if not dataset.get("annotations"):
        # A COCO file without instances is an image list (for tools/predict.py), not a dataset.
        report.error("'annotations' is empty: there is no instance to train or evaluate on")
    for kind, items in (
        ("image", images_list),
        ("annotation", dataset.get("annotations", [])),
        ("category", dataset.get("categories", [])),
    ):
        for duplicate in _duplicates(items):
            report.error(f"{kind} id {duplicate} appears more than once")
    images = {image["id"]: image for image in images_list}
    categories = {c["id"]: c for c in dataset.get("categories", [])}
    for image in images_list:
        _check_image(report, image, image_root, decode_images)
    for annotation in dataset.get("annotations", []):
        _check_annotation(report, annotation, images, categories)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m seg_d2.data.validate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("json_file")
    parser.add_argument("image_root")
    parser.add_argument("--decode", action="store_true", help="decode every image fully")
    args = parser.parse_args(argv)
    try:
        report = validate_coco_dataset(args.json_file, args.image_root, decode_images=args.decode)
    except DatasetError as e:
        print(e, file=sys.stderr)
        return 1
    print(report.summary())
    for message in report.errors:
        print("error:", message)
    for annotation_id, reason in sorted(report.skipped.items()):
        print(f"skipped: annotation id {annotation_id}: {reason}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
