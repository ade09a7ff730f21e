"""The contracting path of U-Net (Ronneberger et al. 2015) as a detectron2 backbone,
so that any detectron2 head, seg_d2's U-Net decoder included, can sit on it."""

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from torch import nn

from .layers import conv3x3, double_conv

__all__ = ["UNetEncoder"]

DOWNSAMPLE_MODES = ("maxpool", "conv")


@BACKBONE_REGISTRY.register()
class UNetEncoder(Backbone):
    """Level ``k`` (feature ``"level{k}"``) has stride ``2**k`` and ``base_channels * 2**k``
    channels, at most ``max_channels`` if that is set (as VGG-style encoders cap at 512):
    a double 3x3 conv at full resolution, then ``depth`` times a x2 down-sampling
    followed by a double conv."""

    @configurable
    def __init__(
        self,
        *,
        in_channels=3,
        depth=4,
        base_channels=64,
        max_channels=0,
        norm="BN",
        downsample="maxpool",
        out_features=None,
    ):
        super().__init__()
        if depth < 1:
            raise ValueError(f"MODEL.UNET.DEPTH must be at least 1, not {depth}")
        if downsample not in DOWNSAMPLE_MODES:
            raise ValueError(
                f"MODEL.UNET.DOWNSAMPLE must be one of {DOWNSAMPLE_MODES}, not {downsample!r}"
            )
        names = [f"level{k}" for k in range(depth + 1)]
        out_features = list(out_features or names)
        unknown = sorted(set(out_features) - set(names))
        if unknown:
            raise ValueError(f"MODEL.UNET.OUT_FEATURES {unknown} not among {names}")
        self._out_features = out_features
        self._out_feature_strides, self._out_feature_channels = {}, {}
        self.levels = nn.ModuleList()
        channels = in_channels
        for k, name in enumerate(names):
            width = base_channels * 2**k
            if max_channels > 0:
                width = min(width, max_channels)
            down = (
                []
                if k == 0
                else [
                    nn.MaxPool2d(2)
                    if downsample == "maxpool"
                    else conv3x3(channels, channels, norm, stride=2)
                ]
            )
            self.levels.append(nn.Sequential(*down, double_conv(channels, width, norm)))
            self._out_feature_strides[name], self._out_feature_channels[name] = 2**k, width
            channels = width
        self._names = names

    @classmethod
    def from_config(cls, cfg, input_shape: ShapeSpec):
        unet = cfg.MODEL.UNET
        return {
            "in_channels": input_shape.channels,
            "depth": unet.DEPTH,
            "base_channels": unet.BASE_CHANNELS,
            "max_channels": unet.MAX_CHANNELS,
            "norm": unet.NORM,
            "downsample": unet.DOWNSAMPLE,
            "out_features": unet.OUT_FEATURES,
        }

    @property
    def size_divisibility(self):
        return 2 ** (len(self._names) - 1)

    def forward(self, x):
        outputs = {}
        for name, level in zip(self._names, self.levels):
            x = level(x)
            if name in self._out_features:
                outputs[name] = x
        return outputs
