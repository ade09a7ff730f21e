"""Building blocks shared by seg_d2's mask head and U-Net, so both upsample the same way."""

import fvcore.nn.weight_init as weight_init
import torch
from detectron2.layers import Conv2d, ConvTranspose2d, get_norm
from torch import nn
from torch.nn import functional as F

__all__ = ["UPSAMPLE_MODES", "conv3x3", "double_conv", "upsample_block"]

UPSAMPLE_MODES = ("bilinear", "deconv")


def conv3x3(in_channels, out_channels, norm="", stride=1):
    """3x3 conv + norm + ReLU, MSRA-initialised as detectron2's heads are."""
    conv = Conv2d(
        in_channels,
        out_channels,
        3,
        stride=stride,
        padding=1,
        bias=not norm,
        norm=get_norm(norm, out_channels),
        activation=nn.ReLU(),
    )
    weight_init.c2_msra_fill(conv)
    return conv


def double_conv(in_channels, out_channels, norm=""):
    """The unit of every U-Net level (Ronneberger et al. 2015)."""
    return nn.Sequential(
        conv3x3(in_channels, out_channels, norm), conv3x3(out_channels, out_channels, norm)
    )


class _Interpolate(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        if x.device.type == "cpu" and not self.training:
            # PyTorch's CPU kernel works in channels-last: on NCHW input it converts in and
            # out, which costs more than the interpolation itself on RoI-sized maps (README,
            # "Where seg_d2 loses"). Channels-last input skips both copies, same numbers.
            # Not in training: there, under bfloat16 autocast, the steps got no faster.
            x = x.contiguous(memory_format=torch.channels_last)
        return F.interpolate(x, scale_factor=self.factor, mode="bilinear", align_corners=False)


def upsample_block(mode, in_channels, out_channels, norm="", factor=2):
    """Upsample by ``factor``: bilinear interpolation then a 3x3 conv (no checkerboard
    artefacts), or a transposed conv with kernel and stride ``factor`` + ReLU."""
    if mode == "bilinear":
        return nn.Sequential(_Interpolate(factor), conv3x3(in_channels, out_channels, norm))
    if mode == "deconv":
        deconv = ConvTranspose2d(in_channels, out_channels, kernel_size=factor, stride=factor)
        weight_init.c2_msra_fill(deconv)
        return nn.Sequential(deconv, nn.ReLU())
    raise ValueError(f"upsampling mode must be one of {UPSAMPLE_MODES}, not {mode!r}")
