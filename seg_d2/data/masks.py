"""COCO segmentations to and from masks: the one place that encodes and decodes them."""

import cv2
import numpy as np
from pycocotools import mask as mask_util

__all__ = [
    "mask_to_rle",
    "mask_to_segmentation",
    "polygon_areas",
    "segmentation_to_rle",
    "segmentation_to_mask",
    "usable_polygons",
]


def usable_polygons(polygons):
    """The polygons COCO can rasterise: 3 or more (x, y) points each."""
    return [p for p in polygons if len(p) >= 6 and len(p) % 2 == 0]


def segmentation_to_rle(segmentation, height, width):
    """One compressed RLE for a polygon list (polygons of fewer than 3 points are
    left out), an uncompressed RLE or a compressed RLE."""
    if isinstance(segmentation, list):
        polygons = usable_polygons(segmentation)
        if not polygons:
            raise ValueError("no polygon of 3 or more points")
        return mask_util.merge(mask_util.frPyObjects(polygons, height, width))
    if isinstance(segmentation["counts"], list):
        return mask_util.frPyObjects(segmentation, height, width)
    return segmentation


def polygon_areas(polygon_lists, height, width):
    """The area in pixels of each polygon list's mask (the union of its polygons, each of
    3 or more points) in an image of this size, all rasterised in one call: a call per
    annotation takes twice as long, most of it in pycocotools' wrapping."""
    polygons = [polygon for polygon_list in polygon_lists for polygon in polygon_list]
    if not polygons:
        return []
    rles = mask_util.frPyObjects(polygons, height, width)
    each = mask_util.area(rles)
    areas, start = [], 0
    for polygon_list in polygon_lists:
        end = start + len(polygon_list)
        union = (
            each[start] if end - start == 1 else mask_util.area(mask_util.merge(rles[start:end]))
        )
        areas.append(float(union))
        start = end
    return areas


def segmentation_to_mask(segmentation, height, width):
    """The segmentation as an HxW uint8 0/1 array."""
    return mask_util.decode(segmentation_to_rle(segmentation, height, width))


def mask_to_rle(mask):
    """A compressed COCO RLE of an HxW mask, its counts as text (JSON-ready)."""
    rle = mask_util.encode(np.asfortranarray(mask, dtype=np.uint8))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _outer_polygons(mask):
    """The outline of each part along pixel edges (COCO rasterises polygons on pixel
    corners): traced on the mask upscaled x2, where a pixel's far edge lies at an odd
    coordinate, then mapped back."""
    upscaled = cv2.resize(mask, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(upscaled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outlines = [(c.reshape(-1, 2) + c.reshape(-1, 2) % 2) // 2 for c in contours]
    return [o.astype(np.float64).ravel().tolist() for o in outlines if len(o) >= 3]


def mask_to_segmentation(mask):
    """COCO polygons when they rasterise back to exactly ``mask``, else a compressed RLE
    (holes, parts thinner than a pixel or several parts that polygons would merge):
    either way the mask round-trips pixel for pixel."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    polygons = _outer_polygons(mask)
    if polygons and np.array_equal(segmentation_to_mask(polygons, *mask.shape), mask):
        return polygons
    return mask_to_rle(mask)
