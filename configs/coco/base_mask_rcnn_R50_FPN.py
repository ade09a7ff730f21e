"""Python twin of Base-MaskRCNN-R50-FPN.yaml: COCO at detectron2's 1x schedule, for GPUs."""

from ..common.data import dataloader as build_dataloader
from ..common.mask_rcnn import mask_rcnn
from ..common.optim import sgd
from ..common.schedules import multi_step
from ..common.train import train as build_train

model = mask_rcnn(
    depth=50,
    norm="FrozenBN",
    stride_in_1x1=True,
    fpn_channels=256,
    anchor_sizes=[[32], [64], [128], [256], [512]],
    pre_nms_topk=(2000, 1000),
    post_nms_topk=(1000, 1000),
    roi_batch_size=512,
    box_fc_dim=1024,
    mask_conv_dims=[256, 256, 256, 256],
    sampling_ratio=0,
    detections_per_image=100,
    pixel_std=[1.0, 1.0, 1.0],
    freeze_at=2,
)
dataloader = build_dataloader(
    "coco_2017_train",
    "coco_2017_val",
    min_size_train=(640, 672, 704, 736, 768, 800),
    max_size_train=1333,
    min_size_test=800,
    max_size_test=1333,
    batch_size=16,
    num_workers=4,
    use_instance_mask=True,
)
optimizer = sgd(lr=0.02)
lr_multiplier = multi_step(max_iter=90000, steps=(60000, 80000), warmup_iters=1000)
train = build_train(
    "output/coco/mask_rcnn_R50_FPN_1x",
    max_iter=90000,
    checkpoint_period=10000,
    eval_period=10000,
    init_checkpoint="detectron2://ImageNetPretrained/MSRA/R-50.pkl",
    amp=dict(enabled=True),
)
