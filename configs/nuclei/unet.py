"""Python twin of unet.yaml (nuclei): the U-Net on 128-pixel crops."""

from detectron2.config import LazyCall as L
from detectron2.data import transforms as T

from ..common.data import dataloader as build_dataloader
from ..common.schedules import cosine
from ..shapes.base_unet import model, optimizer, train
from .mask_rcnn_R18_FPN import datasets

model.sem_seg_head.loss.dice_weight = 1.0
dataloader = build_dataloader(
    "nuclei_train_sem_seg",
    "nuclei_val_sem_seg",
    min_size_train=(256, 320, 384),
    max_size_train=1024,
    min_size_test=320,
    max_size_test=1024,
    batch_size=8,
    num_workers=0,
    use_instance_mask=False,
    extra_augmentations=[
        L(T.RandomCrop)(crop_type="absolute", crop_size=(128, 128)),
        L(T.RandomFlip)(vertical=True, horizontal=False),
    ],
)
lr_multiplier = cosine(max_iter=1800, warmup_iters=50)
train.update(
    output_dir="output/nuclei/unet",
    max_iter=1800,
    eval_period=0,
    amp=dict(enabled=False),
    checkpointer=dict(period=600, max_to_keep=100),
)

__all__ = ["dataloader", "datasets", "lr_multiplier", "model", "optimizer", "train"]
