"""COCO segmentations as pycocotools masks, whichever of the three COCO forms they take."""
from pycocotools import mask as mask_util

__all__ = ["segmentation_to_rle", "segmentation_to_mask"]


def segmentation_to_rle(segmentation, height, width):
    """One compressed RLE for a polygon list (polygons of fewer than 3 points are
    left out), an uncompressed RLE or a compressed RLE."""
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation if len(p) >= 6 and len(p) % 2 == 0]
        if not polygons:
            raise ValueError("no polygon of 3 or more points")
        return mask_util.merge(mask_util.frPyObjects(polygons, height, width))
    if isinstance(segmentation["counts"], list):
        return mask_util.frPyObjects(segmentation, height, width)
    return segmentation


def segmentation_to_mask(segmentation, height, width):
    """The segmentation as an HxW uint8 0/1 array."""
    return mask_util.decode(segmentation_to_rle(segmentation, height, width))
