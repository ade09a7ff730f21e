"""Converters from the common non-COCO layouts to a COCO instances JSON that
``seg_d2.data.validate`` accepts, one command each (``python -m seg_d2.data.convert -h``).
Masks round-trip pixel for pixel: polygons where they rasterise back exactly, RLE
otherwise (holes, several parts). Images are referenced where they are, not copied."""

from .masks_layouts import from_instance_pngs, from_mask_folders, from_semantic_pngs
from .polygon_layouts import from_labelme, from_via
from .split import split_coco_json

__all__ = [
    "from_instance_pngs",
    "from_labelme",
    "from_mask_folders",
    "from_semantic_pngs",
    "from_via",
    "split_coco_json",
]
