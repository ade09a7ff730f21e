"""Python twin of nuclei_mask_rcnn_R18_FPN.yaml (finetune): a short schedule from trained
weights (train.init_checkpoint), the stem and res2 frozen."""

from ..common.schedules import cosine
from ..nuclei.mask_rcnn_R18_FPN import dataloader, datasets, model, optimizer, train

model.backbone.bottom_up.freeze_at = 2
optimizer.lr = 0.01
lr_multiplier = cosine(max_iter=300, warmup_iters=30)
train.update(
    output_dir="output/finetune/nuclei_mask_rcnn_R18_FPN",
    max_iter=300,
    checkpointer=dict(period=300, max_to_keep=100),
)

__all__ = ["dataloader", "datasets", "lr_multiplier", "model", "optimizer", "train"]
