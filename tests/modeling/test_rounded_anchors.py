"""RoundedAnchorGenerator: detectron2's anchors on whole pixels, as torchvision makes them."""

import seg_d2  # noqa: F401
from seg_d2.modeling.rounded_anchors import RoundedAnchorGenerator

import torch
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator

SIZES, RATIOS, STRIDES = [[32], [64]], [[0.5, 1.0, 2.0]] * 2, [4, 8]


def test_cell_anchors_are_detectron2s_rounded_to_whole_pixels():
    ours = RoundedAnchorGenerator(sizes=SIZES, aspect_ratios=RATIOS, strides=STRIDES)
    theirs = DefaultAnchorGenerator(sizes=SIZES, aspect_ratios=RATIOS, strides=STRIDES)
    rounded, exact = list(ours.cell_anchors), list(theirs.cell_anchors)
    for mine, detectron2s in zip(rounded, exact, strict=True):
        assert torch.equal(mine, detectron2s.round())
    # The 32-px anchor of aspect 0.5: 46 x 22 pixels, not 45.25 x 22.63.
    x0, y0, x1, y1 = rounded[0][0].tolist()
    assert (x1 - x0, y1 - y0) == (46.0, 22.0)
    assert not torch.equal(exact[0], exact[0].round())
