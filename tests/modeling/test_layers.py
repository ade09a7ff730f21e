"""The upsampling block seg_d2's mask head and U-Net share, against values by hand."""

from seg_d2.modeling.layers import upsample_block

import pytest
import torch
from torch.nn import functional as F


def _identity_conv(block):
    conv = block[1]
    with torch.no_grad():
        conv.weight.zero_()
        centre = [s // 2 for s in conv.weight.shape[-2:]]
        conv.weight[0, 0, centre[0], centre[1]] = 1.0
        conv.bias.zero_()


def test_bilinear_mode_interpolates_then_convolves():
    """[0, 4] doubled bilinearly (half-pixel centres, as F.interpolate without
    align_corners) is [0, 1, 3, 4]; nearest neighbour would give [0, 0, 4, 4]."""
    block = upsample_block("bilinear", 1, 1)
    _identity_conv(block)
    out = block(torch.tensor([[[[0.0, 4.0]]]]))
    assert torch.allclose(out, torch.tensor([[[[0.0, 1.0, 3.0, 4.0]] * 2]]))


def test_bilinear_mode_on_a_cpu_interpolates_channels_last_in_inference_to_the_same_numbers():
    """In inference the CPU path hands F.interpolate channels-last maps (no conversion in
    and out of NCHW, which costs more than the interpolation on RoI-sized maps), same
    values; training keeps the maps as they come."""
    interpolate = upsample_block("bilinear", 64, 64)[0]
    rois = torch.randn(50, 64, 14, 14)
    expected = F.interpolate(rois, scale_factor=2, mode="bilinear", align_corners=False)
    trained = interpolate.train()(rois)
    assert trained.is_contiguous() and torch.equal(trained, expected)
    inferred = interpolate.eval()(rois)
    assert inferred.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(inferred, expected)


def test_deconv_mode_copies_each_pixel_into_its_factor_by_factor_cell():
    block = upsample_block("deconv", 1, 1, factor=2)
    deconv = block[0]
    with torch.no_grad():
        deconv.weight.fill_(1.0)
        deconv.bias.zero_()
    out = block(torch.tensor([[[[1.0, -2.0]]]]))
    assert torch.equal(out, torch.tensor([[[[1.0, 1.0, 0.0, 0.0]] * 2]]))  # ReLU after the deconv


def test_unknown_mode_is_named():
    with pytest.raises(ValueError, match="'nearest'"):
        upsample_block("nearest", 1, 1)
