from .coco import register_coco_dataset
from .image_io import ImageReadError, read_image
from .shapes import register_shapes
from .validate import DatasetError, validate_coco_dataset

__all__ = [
    "DatasetError",
    "ImageReadError",
    "read_image",
    "register_coco_dataset",
    "validate_coco_dataset",
]

register_shapes()
