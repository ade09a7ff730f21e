"""The expanding path of U-Net as a detectron2 semantic-segmentation head.

It takes the multi-scale features of any backbone (seg_d2's ``UNetEncoder``, a
ResNet, an FPN): from the coarsest, each step upsamples to the next finer feature,
concatenates it as the skip connection and applies a double 3x3 conv; a 1x1
classifier follows. When the finest feature has a stride above 1, the logits are
upsampled bilinearly to the input resolution, as ``SemSegFPNHead`` does, so
``SemanticSegmentor`` and ``PanopticFPN`` use this head as they use theirs. Odd
sizes need no resizing by the caller: the meta-architectures pad the input to the
backbone's size divisibility and crop the logits back.
"""
from typing import Dict

import fvcore.nn.weight_init as weight_init
import torch
from detectron2.config import configurable
from detectron2.layers import Conv2d, ShapeSpec
from detectron2.modeling import SEM_SEG_HEADS_REGISTRY
from torch import nn
from torch.nn import functional as F

from .layers import double_conv, upsample_block
from .losses import SemanticSegmentationLoss

__all__ = ["UNetHead"]


@SEM_SEG_HEADS_REGISTRY.register()
class UNetHead(nn.Module):
    @configurable
    def __init__(self, input_shape: Dict[str, ShapeSpec], *, num_classes, loss: SemanticSegmentationLoss,
                 upsample_mode="bilinear", norm="BN"):
        """
        Args:
            input_shape: the features to use, by name; each decoder level has as many
                channels as the skip feature it joins.
            loss: the loss terms, which also know the ignore label.
            upsample_mode: "bilinear" (interpolate + 3x3 conv) or "deconv".
        """
        super().__init__()
        if not input_shape:
            raise ValueError("UNetHead needs at least one input feature (MODEL.SEM_SEG_HEAD.IN_FEATURES)")
        ordered = sorted(input_shape.items(), key=lambda item: item[1].stride)
        self.in_features = [name for name, _ in ordered]
        shapes = [shape for _, shape in ordered]
        self.loss = loss
        self.ignore_value = loss.ignore_value  # SemanticSegmentor pads targets with it
        self.output_stride = shapes[0].stride

        self.upsamples, self.fuses = nn.ModuleList(), nn.ModuleList()
        for finer, coarser in zip(reversed(shapes[:-1]), reversed(shapes[1:])):
            if coarser.stride % finer.stride:
                raise ValueError(f"feature strides {finer.stride} and {coarser.stride} are not nested")
            self.upsamples.append(upsample_block(upsample_mode, coarser.channels, finer.channels, norm,
                                                 factor=coarser.stride // finer.stride))
            self.fuses.append(double_conv(2 * finer.channels, finer.channels, norm))
        self.predictor = Conv2d(shapes[0].channels, num_classes, kernel_size=1)
        # MSRA, as SemSegFPNHead: a near-zero classifier (as mask heads use) starves
        # the whole network of gradient, and from scratch it then learns only the stuff.
        weight_init.c2_msra_fill(self.predictor)

    @classmethod
    def from_config(cls, cfg, input_shape):
        head = cfg.MODEL.SEM_SEG_HEAD
        return {
            "input_shape": {name: shape for name, shape in input_shape.items() if name in head.IN_FEATURES},
            "num_classes": head.NUM_CLASSES,
            "loss": SemanticSegmentationLoss(cfg),
            "upsample_mode": head.UPSAMPLE_MODE,
            "norm": head.NORM,
        }

    def layers(self, features, output_size=None):
        """Logits at ``output_size``, or at the finest feature's size times its stride."""
        x = features[self.in_features[-1]]
        for name, upsample, fuse in zip(reversed(self.in_features[:-1]), self.upsamples, self.fuses):
            skip = features[name]
            x = _resize_to(upsample(x), skip.shape[-2:])
            x = fuse(torch.cat([skip, x], dim=1))
        x = self.predictor(x)
        if output_size is None:
            output_size = [side * self.output_stride for side in x.shape[-2:]]
        return _resize_to(x, output_size)

    def forward(self, features, targets=None):
        """Returns (logits at input resolution, {}) in inference, (None, losses) in training."""
        if self.training:
            return None, self.loss(self.layers(features, targets.shape[-2:]), targets)
        return self.layers(features), {}


def _resize_to(x, size):
    """Bilinear resize when sizes differ: backbones without a size divisibility (a
    plain ResNet) round odd sizes, so a feature may be one pixel off its skip."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
