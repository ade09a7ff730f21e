"""The U-Net (seg_d2's encoder and head) as a SemanticSegmentor, from plain arguments:
what ``build_model`` makes of ``MODEL.UNET.*`` and ``MODEL.SEM_SEG_HEAD.*``."""

from seg_d2.modeling import UNetEncoder, UNetHead
from seg_d2.modeling.losses import SemanticSegmentationLoss

from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling import SemanticSegmentor


def unet(*, depth, base_channels, norm, num_classes=0, dice_weight=0.0):
    """A U-Net ``depth`` down-samplings deep, ``base_channels`` wide at full resolution."""
    levels = {
        f"level{k}": ShapeSpec(channels=base_channels * 2**k, stride=2**k) for k in range(depth + 1)
    }
    return L(SemanticSegmentor)(
        backbone=L(UNetEncoder)(depth=depth, base_channels=base_channels, norm=norm),
        sem_seg_head=L(UNetHead)(
            input_shape=levels,
            num_classes=num_classes,  # 0: from the data
            loss=L(SemanticSegmentationLoss)(ignore_value=255, dice_weight=dice_weight),
            upsample_mode="bilinear",
            norm=norm,
        ),
        pixel_mean=[103.530, 116.280, 123.675],
        pixel_std=[57.375, 57.120, 58.395],
    )
