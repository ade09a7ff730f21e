from .coco import register_coco_dataset
from .shapes import register_shapes
from .validate import DatasetError, validate_coco_dataset

__all__ = ["DatasetError", "register_coco_dataset", "validate_coco_dataset"]

register_shapes()
