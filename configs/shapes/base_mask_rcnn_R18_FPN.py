"""Python twin of Base-MaskRCNN-R18-FPN.yaml: the same model, data and schedule,
for tools/train_net.py as detectron2's lazyconfig_train_net.py reads them."""

from ..common.data import dataloader as build_dataloader
from ..common.mask_rcnn import mask_rcnn
from ..common.optim import sgd
from ..common.schedules import multi_step
from ..common.train import train as build_train

model = mask_rcnn(
    depth=18,
    norm="BN",
    stride_in_1x1=False,
    fpn_channels=64,
    anchor_sizes=[[16], [32], [64], [128], [256]],
    pre_nms_topk=(1000, 500),
    post_nms_topk=(500, 250),
    roi_batch_size=64,
    box_fc_dim=512,
    mask_conv_dims=[64, 64],
    sampling_ratio=2,
    detections_per_image=50,
    pixel_std=[57.375, 57.120, 58.395],
    freeze_at=0,
)
dataloader = build_dataloader(
    "shapes_train",
    "shapes_val",
    min_size_train=(192,),
    max_size_train=512,
    min_size_test=192,
    max_size_test=512,
    batch_size=4,
    num_workers=1,
    use_instance_mask=True,
    max_dets_per_image=50,
)
optimizer = sgd(lr=0.02)
lr_multiplier = multi_step(max_iter=1000, steps=(750, 925), warmup_iters=100)
train = build_train(
    "output/shapes/mask_rcnn_R18_FPN",
    max_iter=1000,
    checkpoint_period=200,
    eval_period=500,
    clip_gradients=dict(enabled=True, clip_type="norm", clip_value=5.0),
)
