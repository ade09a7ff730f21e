"""Python twin of mask_rcnn_R18_FPN.yaml (nuclei): crowded small objects."""

from detectron2.config import LazyCall as L
from detectron2.data import transforms as T

from ..common.data import dataloader as build_dataloader
from ..common.schedules import cosine
from ..shapes.base_mask_rcnn_R18_FPN import model, optimizer, train

datasets = dict(
    coco_format=[
        "nuclei_train=datasets/nuclei/nuclei_train.json:datasets/nuclei/stage1_train",
        "nuclei_val=datasets/nuclei/nuclei_val.json:datasets/nuclei/stage1_train",
    ]
)
model.proposal_generator.anchor_generator.sizes = [[8], [16], [32], [64], [128]]
model.proposal_generator.pre_nms_topk = (1000, 2000)
model.proposal_generator.post_nms_topk = (500, 1000)
model.roi_heads.batch_size_per_image = 128
model.roi_heads.box_predictor.test_topk_per_image = 400
model.roi_heads.mask_head.dice_weight = 1.0
dataloader = build_dataloader(
    "nuclei_train",
    "nuclei_val",
    min_size_train=(256, 320, 384),
    max_size_train=1024,
    min_size_test=384,
    max_size_test=1024,
    batch_size=4,
    num_workers=0,
    use_instance_mask=True,
    extra_augmentations=[
        L(T.RandomCrop)(crop_type="absolute", crop_size=(256, 256)),
        L(T.RandomFlip)(vertical=True, horizontal=False),
    ],
    max_dets_per_image=400,
)
lr_multiplier = cosine(max_iter=1700, warmup_iters=100)
train.update(
    output_dir="output/nuclei/mask_rcnn_R18_FPN",
    max_iter=1700,
    eval_period=0,
    checkpointer=dict(period=850, max_to_keep=100),
)

__all__ = ["dataloader", "datasets", "lr_multiplier", "model", "optimizer", "train"]
