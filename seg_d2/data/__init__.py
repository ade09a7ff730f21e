from .coco import register_coco_dataset
from .validate import DatasetError, validate_coco_dataset

__all__ = ["DatasetError", "register_coco_dataset", "validate_coco_dataset"]
