"""Python twin of mask_rcnn_R50_FPN_torchvision_coco.yaml (finetune): torchvision's COCO
Mask R-CNN (train.init_checkpoint) on one's own data, the balloon tutorial's schedule."""

from ..coco.mask_rcnn_R50_FPN_torchvision import model, train
from ..common.data import dataloader as build_dataloader
from ..common.optim import sgd
from ..common.schedules import multi_step
from ..nuclei.mask_rcnn_R18_FPN import datasets

model.roi_heads.batch_size_per_image = 128
model.roi_heads.box_predictor.test_topk_per_image = 400
dataloader = build_dataloader(
    "nuclei_train",
    "nuclei_val",
    min_size_train=(640, 672, 704, 736, 768, 800),
    max_size_train=1333,
    min_size_test=800,
    max_size_test=1333,
    batch_size=2,
    num_workers=4,
    use_instance_mask=True,
    max_dets_per_image=400,
)
dataloader.train.mapper.image_format = "RGB"
optimizer = sgd(lr=0.00025)
lr_multiplier = multi_step(max_iter=300, steps=(), warmup_iters=0)
train.update(
    output_dir="output/finetune/mask_rcnn_R50_FPN_torchvision_coco",
    max_iter=300,
    eval_period=0,
    checkpointer=dict(period=300, max_to_keep=100),
)

__all__ = ["dataloader", "datasets", "lr_multiplier", "model", "optimizer", "train"]
