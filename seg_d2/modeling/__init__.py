# Importing registers each component with detectron2's registries.
from .mask_head import UpsampleMaskHead
from .posthoc_panoptic import PosthocPanoptic
from .test_time_augmentation import SemanticSegmentorWithTTA, with_test_time_augmentation
from .unet_encoder import UNetEncoder
from .unet_head import UNetHead

__all__ = [
    "PosthocPanoptic",
    "SemanticSegmentorWithTTA",
    "UNetEncoder",
    "UNetHead",
    "UpsampleMaskHead",
    "with_test_time_augmentation",
]
