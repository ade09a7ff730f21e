"""Python twin of Base-UNet.yaml (ADE20K): the paper-sized U-Net, for GPUs."""

from detectron2.config import LazyCall as L
from detectron2.data import transforms as T

from ..common.data import dataloader as build_dataloader
from ..common.optim import sgd
from ..common.schedules import cosine
from ..common.train import train as build_train
from ..common.unet import unet

model = unet(depth=4, base_channels=64, norm="SyncBN")
dataloader = build_dataloader(
    "ade20k_sem_seg_train",
    "ade20k_sem_seg_val",
    min_size_train=tuple(range(256, 1025, 64)),
    max_size_train=2048,
    min_size_test=512,
    max_size_test=2048,
    batch_size=16,
    num_workers=4,
    use_instance_mask=False,
)
# INPUT.CROP: detectron2's mapper crops before it resizes.
dataloader.train.mapper.augmentations = [
    L(T.RandomCrop)(crop_type="absolute", crop_size=(512, 512)),
    *dataloader.train.mapper.augmentations,
]
optimizer = sgd(lr=0.01)
lr_multiplier = cosine(max_iter=160000, warmup_iters=1000)
train = build_train("output/ade20k/unet", max_iter=160000, checkpoint_period=5000, eval_period=5000)
