"""A semantic head for backbones that already end in class logits (``SMPModel``):
seg_d2's losses on them, in detectron2's head contract."""

from typing import Dict

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import SEM_SEG_HEADS_REGISTRY
from torch import nn

from .losses import SemanticSegmentationLoss

__all__ = ["LogitsHead"]


@SEM_SEG_HEADS_REGISTRY.register()
class LogitsHead(nn.Module):
    @configurable
    def __init__(self, input_shape: Dict[str, ShapeSpec], *, num_classes, loss):
        """
        Args:
            input_shape: the one feature, the logits, at stride 1.
            loss: the loss terms, which also know the ignore label.
        """
        super().__init__()
        if len(input_shape) != 1:
            raise ValueError(f"LogitsHead takes one feature, the logits, not {sorted(input_shape)}")
        ((self.in_feature, shape),) = input_shape.items()
        if shape.channels != num_classes:
            raise ValueError(
                f"feature {self.in_feature!r} has {shape.channels} channels for "
                f"{num_classes} classes"
            )
        self.loss = loss
        self.ignore_value = loss.ignore_value  # SemanticSegmentor pads targets with it

    @classmethod
    def from_config(cls, cfg, input_shape):
        head = cfg.MODEL.SEM_SEG_HEAD
        return {
            "input_shape": {
                name: shape for name, shape in input_shape.items() if name in head.IN_FEATURES
            },
            "num_classes": head.NUM_CLASSES,
            "loss": SemanticSegmentationLoss(cfg),
        }

    def layers(self, features):
        return features[self.in_feature]

    def losses(self, predictions, targets):
        return self.loss(predictions, targets)

    def forward(self, features, targets=None):
        logits = self.layers(features)
        if self.training:
            return None, self.losses(logits, targets)
        return logits, {}
