# Importing registers each component with detectron2's registries.
from .logits_head import LogitsHead
from .mask_head import UpsampleMaskHead
from .posthoc_panoptic import PosthocPanoptic
from .rounded_anchors import RoundedAnchorGenerator
from .sliding_window import SlidingWindowSemanticSegmentor
from .smp_model import SMPModel
from .test_options import with_test_options
from .test_time_augmentation import SemanticSegmentorWithTTA, with_test_time_augmentation
from .tiled_instances import TiledGeneralizedRCNN
from .unet_encoder import UNetEncoder
from .unet_head import UNetHead

__all__ = [
    "LogitsHead",
    "PosthocPanoptic",
    "RoundedAnchorGenerator",
    "SMPModel",
    "SemanticSegmentorWithTTA",
    "SlidingWindowSemanticSegmentor",
    "TiledGeneralizedRCNN",
    "UNetEncoder",
    "UNetHead",
    "UpsampleMaskHead",
    "with_test_options",
    "with_test_time_augmentation",
]
