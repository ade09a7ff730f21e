# Importing registers each component with detectron2's registries.
from .mask_head import UpsampleMaskHead

__all__ = ["UpsampleMaskHead"]
