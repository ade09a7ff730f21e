# Importing registers each component with detectron2's registries.
from .mask_head import UpsampleMaskHead
from .posthoc_panoptic import PosthocPanoptic
from .unet_encoder import UNetEncoder
from .unet_head import UNetHead

__all__ = ["PosthocPanoptic", "UNetEncoder", "UNetHead", "UpsampleMaskHead"]
