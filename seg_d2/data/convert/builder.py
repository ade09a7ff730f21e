"""What every converter shares: a COCO instances JSON built image by image, with the
validator's policy for bad input (errors that name the file at fault stop the
conversion; empty masks are skipped, counted and logged), checked by
``validate_coco_dataset`` and written whole or not at all."""

import json
import logging
import os
from collections import Counter

import numpy as np
from PIL import Image
from pycocotools import mask as mask_util

from ...atomic_files import write_text_atomically
from ..masks import mask_to_rle, mask_to_segmentation, segmentation_to_rle, usable_polygons
from ..validate import DatasetError, displayed_size, listed_problems, validate_coco_dataset

__all__ = ["CocoBuilder", "read_label_png"]

logger = logging.getLogger(__name__)


def read_label_png(path):
    """An HxW integer array of a mask or label PNG: its values for single-channel and
    palette files, any non-zero colour channel for RGB(A) binary masks."""
    with Image.open(path) as image:
        if image.mode in ("RGB", "RGBA", "LA"):
            colour = np.asarray(image.convert("RGB"))
            return colour.max(axis=2).astype(np.int64)
        return np.asarray(image).astype(np.int64)


class CocoBuilder:
    """Images, categories and instances of one COCO JSON, in the order added."""

    def __init__(self, image_root):
        self.image_root = os.path.abspath(image_root)
        self.images = []
        self.annotations = []
        self._categories = {}  # name -> COCO category
        self.errors = []
        self.skips = Counter()
        self._skip_examples = []

    def error(self, message):
        self.errors.append(message)

    def skip(self, reason, where):
        self.skips[reason] += 1
        self._skip_examples.append(f"{where}: {reason}")

    def category_id(self, name, isthing=True):
        category = self._categories.get(name)
        if category is None:
            category = {"id": len(self._categories) + 1, "name": name, "isthing": int(isthing)}
            self._categories[name] = category
        elif category["isthing"] != int(isthing):
            raise ValueError(f"category {name!r} is given both as a thing and as stuff")
        return category["id"]

    def add_image(self, path):
        """The image record of ``path`` (inside ``image_root``), or None after an error."""
        path = os.path.abspath(path)
        relative = os.path.relpath(path, self.image_root)
        if relative.startswith(os.pardir):
            self.error(f"image {path} is not inside the image root {self.image_root}")
            return None
        try:
            width, height = displayed_size(path)
        except Exception as e:  # noqa: BLE001 (PIL raises many kinds for a broken file; each is named)
            self.error(f"image {path} cannot be read ({type(e).__name__}: {e})")
            return None
        image = {
            "id": len(self.images) + 1,
            "file_name": relative,
            "height": height,
            "width": width,
        }
        self.images.append(image)
        return image

    def _add(self, image, category_id, segmentation, area, rle, iscrowd=0):
        self.annotations.append(
            {
                "id": len(self.annotations) + 1,
                "image_id": image["id"],
                "category_id": category_id,
                "segmentation": segmentation,
                "area": float(area),
                "bbox": [float(v) for v in mask_util.toBbox(rle)],
                "iscrowd": iscrowd,
            }
        )

    def add_mask(self, image, category_id, mask, where):
        """One instance (or stuff region) from an HxW mask; ``where`` names its source."""
        if mask.shape != (image["height"], image["width"]):
            self.error(
                f"{where}: the mask is {mask.shape[1]}x{mask.shape[0]} but its image "
                f"{image['file_name']} is {image['width']}x{image['height']}"
            )
            return
        mask = mask.astype(np.uint8)
        area = int(mask.sum())
        if area == 0:
            self.skip("empty mask", where)
            return
        self._add(image, category_id, mask_to_segmentation(mask), area, mask_to_rle(mask))

    def add_polygons(self, image, category_id, polygons, where):
        """One instance from polygons [[x0, y0, x1, y1, ...], ...] in pixel coordinates."""
        polygons = [[float(v) for v in p] for p in usable_polygons(polygons)]
        if not polygons:
            self.skip("polygon of fewer than 3 points", where)
            return
        rle = segmentation_to_rle(polygons, image["height"], image["width"])
        area = int(mask_util.area(rle))
        if area == 0:
            self.skip("polygon of zero area", where)
            return
        self._add(image, category_id, polygons, area, rle)

    def dataset(self):
        return {
            "images": self.images,
            "annotations": self.annotations,
            "categories": sorted(self._categories.values(), key=lambda c: c["id"]),
        }

    def write(self, json_file):
        """Check everything and write ``json_file``; raise DatasetError, writing nothing,
        when the input had errors or the result does not validate."""
        if self.errors:
            raise DatasetError(listed_problems(self.errors, "in the input; nothing was written"))
        if self.skips:
            logger.warning(
                "skipped %d unusable mask(s)/shape(s) (%s), e.g.: %s",
                sum(self.skips.values()),
                ", ".join(f"{n} {r}" for r, n in self.skips.items()),
                "; ".join(self._skip_examples[:5]),
            )
        annotated = {a["image_id"] for a in self.annotations}
        empty = sum(1 for image in self.images if image["id"] not in annotated)
        if empty:
            logger.warning(
                "%d image(s) have no instance; kept as images without annotations", empty
            )
        dataset = self.dataset()
        report = validate_coco_dataset(json_file, self.image_root, dataset=dataset)
        report.raise_if_errors()
        os.makedirs(os.path.dirname(os.path.abspath(json_file)), exist_ok=True)
        write_text_atomically(json_file, json.dumps(dataset))
        return report
