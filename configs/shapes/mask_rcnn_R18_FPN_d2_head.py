"""Python twin of mask_rcnn_R18_FPN_d2_head.yaml: detectron2's own mask head, to compare."""

from detectron2.config import LazyCall as L
from detectron2.modeling.roi_heads import MaskRCNNConvUpsampleHead

from .mask_rcnn_R18_FPN import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.mask_head = L(MaskRCNNConvUpsampleHead)(
    input_shape=model.roi_heads.mask_head.input_shape,
    num_classes="${..num_classes}",
    conv_dims=[64, 64, 64],  # NUM_CONV convolutions, then the deconvolution's width
)
train.output_dir = "output/shapes/mask_rcnn_R18_FPN_d2_head"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
