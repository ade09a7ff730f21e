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

from .layers import UPSAMPLE_MODES, double_conv, upsample_block
from .losses import SemanticSegmentationLoss

__all__ = ["UNetHead"]

# The shared upsampling blocks, and nearest-neighbour interpolation alone (smp's decoder),
# which only a U-Net decoder can use: its convolutions after the join set the width.
UNET_UPSAMPLE_MODES = (*UPSAMPLE_MODES, "nearest")


@SEM_SEG_HEADS_REGISTRY.register()
class UNetHead(nn.Module):
    @configurable
    def __init__(
        self,
        input_shape: Dict[str, ShapeSpec],
        *,
        num_classes,
        loss: SemanticSegmentationLoss,
        upsample_mode="bilinear",
        norm="BN",
        decoder_channels=(),
    ):
        """
        Args:
            input_shape: the features to use, by name.
            loss: the loss terms, which also know the ignore label.
            upsample_mode: "bilinear" (interpolate + 3x3 conv), "deconv", or "nearest"
                (nearest-neighbour interpolation alone, as smp's Unet).
            decoder_channels: the width of each decoder level, finest first, one per
                feature but the coarsest; empty: as wide as the skip feature each joins
                (the U-Net paper's; on a ResNet that means 1024- and 2048-wide convolutions).
        """
        super().__init__()
        if not input_shape:
            raise ValueError(
                "UNetHead needs at least one input feature (MODEL.SEM_SEG_HEAD.IN_FEATURES)"
            )
        ordered = sorted(input_shape.items(), key=lambda item: item[1].stride)
        self.in_features = [name for name, _ in ordered]
        shapes = [shape for _, shape in ordered]
        self.loss = loss
        self.ignore_value = loss.ignore_value  # SemanticSegmentor pads targets with it
        self.output_stride = shapes[0].stride

        widths = list(decoder_channels) or [shape.channels for shape in shapes[:-1]]
        if len(widths) != len(shapes) - 1:
            raise ValueError(
                f"MODEL.SEM_SEG_HEAD.DECODER_CHANNELS has {len(widths)} widths for "
                f"{len(shapes)} features {self.in_features}: give one per feature but the coarsest"
            )

        if upsample_mode not in UNET_UPSAMPLE_MODES:
            raise ValueError(
                f"MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE must be one of {UNET_UPSAMPLE_MODES}, "
                f"not {upsample_mode!r}"
            )
        self.upsamples, self.fuses = nn.ModuleList(), nn.ModuleList()
        channels = shapes[-1].channels
        for finer, coarser, width in zip(
            reversed(shapes[:-1]), reversed(shapes[1:]), reversed(widths)
        ):
            if coarser.stride % finer.stride:
                raise ValueError(
                    f"feature strides {finer.stride} and {coarser.stride} are not nested"
                )
            factor = coarser.stride // finer.stride
            if upsample_mode == "nearest":
                # smp's decoder: the coarser features join the skip as they are, which
                # saves a convolution per level (README, "Where seg_d2 loses").
                self.upsamples.append(nn.Upsample(scale_factor=factor, mode="nearest"))
                joining = channels
            else:
                self.upsamples.append(
                    upsample_block(upsample_mode, channels, width, norm, factor=factor)
                )
                joining = width
            self.fuses.append(double_conv(finer.channels + joining, width, norm))
            channels = width
        self.predictor = Conv2d(channels, num_classes, kernel_size=1)
        # MSRA, as SemSegFPNHead: a near-zero classifier (as mask heads use) starves
        # the whole network of gradient, and from scratch it then learns only the stuff.
        weight_init.c2_msra_fill(self.predictor)

    @classmethod
    def from_config(cls, cfg, input_shape):
        head = cfg.MODEL.SEM_SEG_HEAD
        return {
            "input_shape": {
                name: shape for name, shape in input_shape.items() if name in head.IN_FEATURES
            },
            "num_classes": head.NUM_CLASSES,
            "loss": SemanticSegmentationLoss(cfg),
            "upsample_mode": head.UPSAMPLE_MODE,
            "norm": head.NORM,
            "decoder_channels": head.DECODER_CHANNELS,
        }

    def layers(self, features, output_size=None):
        """Logits at ``output_size``, or at the finest feature's size times its stride."""
        x = features[self.in_features[-1]]
        for name, upsample, fuse in zip(
            reversed(self.in_features[:-1]), self.upsamples, self.fuses
        ):
            skip = features[name]
            x = _resize_to(upsample(x), skip.shape[-2:])
            x = fuse(torch.cat([skip, x], dim=1))
        x = self.predictor(x)
        if output_size is None:
            output_size = [side * self.output_stride for side in x.shape[-2:]]
        return _resize_to(x, output_size)

    def losses(self, predictions, targets):
        """The loss terms of logits at any resolution, resized to the targets' (as
        ``SemSegFPNHead.losses``), so that a refining head can use this one as its coarse head."""
        return self.loss(_resize_to(predictions, targets.shape[-2:]), targets)

    def forward(self, features, targets=None):
        """Returns (logits at input resolution, {}) in inference, (None, losses) in training."""
        if self.training:
            return None, self.losses(self.layers(features, targets.shape[-2:]), targets)
        return self.layers(features), {}


def _resize_to(x, size):
    """Bilinear resize when sizes differ: backbones without a size divisibility (a
    plain ResNet) round odd sizes, so a feature may be one pixel off its skip."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
