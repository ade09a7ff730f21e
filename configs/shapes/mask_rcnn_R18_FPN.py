"""Python twin of mask_rcnn_R18_FPN.yaml: the default demo's Mask R-CNN, with its Dice
term, speed settings and schedule."""

from ..common.schedules import multi_step
from .base_mask_rcnn_R18_FPN import dataloader, model, optimizer, train

model.proposal_generator.pre_nms_topk = (500, 500)  # (training, test)
model.proposal_generator.post_nms_topk = (250, 250)
model.roi_heads.box_pooler.sampling_ratio = 1
model.roi_heads.mask_head.dice_weight = 1.0
dataloader.train.num_workers = 0
lr_multiplier = multi_step(max_iter=1300, steps=(975, 1200), warmup_iters=100)
train.update(max_iter=1300, eval_period=650, channels_last=True)
train.amp.enabled = True

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
