"""Python twin of panoptic_fpn_R18.yaml: the Mask R-CNN with a U-Net head for stuff."""

from seg_d2.modeling import UNetHead
from seg_d2.modeling.losses import SemanticSegmentationLoss

from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling import PanopticFPN

from ..common.schedules import multi_step
from .base_mask_rcnn_R18_FPN import dataloader, model, optimizer, train

model._target_ = PanopticFPN
model.sem_seg_head = L(UNetHead)(
    input_shape={f"p{level}": ShapeSpec(channels=64, stride=2**level) for level in (2, 3, 4, 5)},
    num_classes=0,  # 0: the stuff classes of the training data
    loss=L(SemanticSegmentationLoss)(ignore_value=255, cross_entropy_weight=0.5),
    norm="BN",
)
model.combine_overlap_thresh = 0.5
model.combine_stuff_area_thresh = 1024  # pixels of the output image; shapes' are 256x256
model.combine_instances_score_thresh = 0.5
dataloader.train.dataset.names = "shapes_train_panoptic_separated"
dataloader.test.dataset.names = "shapes_val_panoptic_separated"
lr_multiplier = multi_step(max_iter=720, steps=(540, 670), warmup_iters=100)
train.update(
    output_dir="output/shapes/panoptic_fpn_R18",
    max_iter=720,
    eval_period=360,
    checkpointer=dict(period=200, max_to_keep=100),
)

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
