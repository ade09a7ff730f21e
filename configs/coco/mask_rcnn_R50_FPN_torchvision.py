"""Python twin of mask_rcnn_R50_FPN_torchvision.yaml: torchvision's maskrcnn_resnet50_fpn
(v1) in detectron2, for its weights."""

from seg_d2.modeling import RoundedAnchorGenerator

from detectron2.config import LazyCall as L
from detectron2.modeling.roi_heads import MaskRCNNConvUpsampleHead

from .base_mask_rcnn_R50_FPN import dataloader, lr_multiplier, model, optimizer, train

model.pixel_mean = [123.675, 116.28, 103.53]
model.pixel_std = [58.395, 57.12, 57.375]
model.input_format = "RGB"
model.backbone.bottom_up.stages.stride_in_1x1 = False
anchors = model.proposal_generator.anchor_generator
model.proposal_generator.anchor_generator = L(RoundedAnchorGenerator)(
    sizes=anchors.sizes, aspect_ratios=anchors.aspect_ratios, strides=anchors.strides, offset=0.0
)
model.proposal_generator.post_nms_topk = (2000, 1000)
model.roi_heads.num_classes = 0  # from the data; torchvision's COCO file has 90 classes
for pooler in (model.roi_heads.box_pooler, model.roi_heads.mask_pooler):
    pooler.pooler_type = "ROIAlign"
    pooler.sampling_ratio = 2
model.roi_heads.mask_head = L(MaskRCNNConvUpsampleHead)(
    input_shape=model.roi_heads.mask_head.input_shape,
    num_classes="${..num_classes}",
    conv_dims=[256, 256, 256, 256, 256],  # NUM_CONV convolutions, then the deconvolution's width
)
dataloader.train.mapper.image_format = "RGB"
train.update(output_dir="output/coco/mask_rcnn_R50_FPN_torchvision", init_checkpoint="")
train.amp.enabled = False

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
