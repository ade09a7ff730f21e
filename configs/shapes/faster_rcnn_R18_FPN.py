"""Python twin of faster_rcnn_R18_FPN.yaml: the Mask R-CNN without its mask branch."""

from .mask_rcnn_R18_FPN import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.update(mask_in_features=None, mask_pooler=None, mask_head=None)
dataloader.train.mapper.use_instance_mask = False
train.output_dir = "output/shapes/faster_rcnn_R18_FPN"

__all__ = ["dataloader", "lr_multiplier", "model", "optimizer", "train"]
