"""An architecture of segmentation_models_pytorch in detectron2's SemanticSegmentor,
from plain arguments: what ``build_model`` makes of ``MODEL.SMP.*``."""

from seg_d2.modeling import LogitsHead, SMPModel
from seg_d2.modeling.losses import SemanticSegmentationLoss

from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling import SemanticSegmentor


def smp_segmentor(architecture, encoder, *, num_classes=0, dice_weight=0.0):
    """smp's ``architecture`` on ``encoder``, from scratch; ``num_classes`` 0: from the data."""
    return L(SemanticSegmentor)(
        backbone=L(SMPModel)(
            architecture=architecture,
            encoder=encoder,
            num_classes="${..sem_seg_head.num_classes}",
        ),
        sem_seg_head=L(LogitsHead)(
            input_shape={
                "logits": L(ShapeSpec)(channels="${...num_classes}", stride=1),
            },
            num_classes=num_classes,
            loss=L(SemanticSegmentationLoss)(ignore_value=255, dice_weight=dice_weight),
        ),
        pixel_mean=[103.530, 116.280, 123.675],
        pixel_std=[57.375, 57.120, 58.395],
    )
