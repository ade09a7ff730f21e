"""Python twin of Base-UNet.yaml: the U-Net sized for a 2-core CPU."""

from ..common.data import dataloader as build_dataloader
from ..common.optim import adamw
from ..common.schedules import cosine
from ..common.train import train as build_train
from ..common.unet import unet

model = unet(depth=4, base_channels=16, norm="BN")
dataloader = build_dataloader(
    "shapes_train_sem_seg",
    "shapes_val_sem_seg",
    min_size_train=(112, 128, 144),
    max_size_train=512,
    min_size_test=128,
    max_size_test=512,
    batch_size=8,
    num_workers=0,
    use_instance_mask=False,
)
optimizer = adamw(lr=0.002)
lr_multiplier = cosine(max_iter=2100, warmup_iters=50)
train = build_train(
    "output/shapes/unet",
    max_iter=2100,
    checkpoint_period=1050,
    eval_period=1050,
    amp=dict(enabled=True),  # on a CPU: bfloat16 autocast
    channels_last=True,
)
