"""Python twin of Base-UNet.yaml: the U-Net sized for a 2-core CPU."""

import torch
from detectron2.config import LazyCall as L
from detectron2.solver.build import get_default_optimizer_params

from ..common.data import dataloader as build_dataloader
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
optimizer = L(torch.optim.AdamW)(
    params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
    lr=0.002,
    weight_decay=1e-4,
)
lr_multiplier = cosine(max_iter=2100, warmup_iters=50)
train = build_train(
    "output/shapes/unet",
    max_iter=2100,
    checkpoint_period=1050,
    eval_period=1050,
    amp=dict(enabled=True),  # on a CPU: bfloat16 autocast
    channels_last=True,
)
