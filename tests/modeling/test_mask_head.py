"""seg_d2's mask head: shapes, loss terms against hand-computed values, and a loss
that agrees with detectron2's mask_rcnn_loss."""

import math

import seg_d2
from seg_d2.modeling.losses import binary_dice_loss, boundary_band, boundary_bce_loss
from seg_d2.modeling.mask_head import gt_class_logits_and_targets

import pytest
import torch
from detectron2.layers import ShapeSpec
from detectron2.modeling.roi_heads import build_mask_head
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage
from torch.nn import functional as F


def _head(*opts):
    cfg = seg_d2.setup_config("configs/shapes/mask_rcnn_R18_FPN.yaml", list(opts))
    return build_mask_head(cfg, ShapeSpec(channels=8, height=14, width=14))


@pytest.mark.parametrize("mode", ["bilinear", "deconv"])
@pytest.mark.parametrize("stages, side", [(1, 28), (2, 56)])
def test_output_shapes(mode, stages, side):
    head = _head(
        "MODEL.ROI_MASK_HEAD.UPSAMPLE_MODE", mode, "MODEL.ROI_MASK_HEAD.UPSAMPLE_STAGES", stages
    )
    assert head.layers(torch.randn(3, 8, 14, 14)).shape == (3, 4, side, side)


def _reference_mask_logits(head, x, stages, norm_groups=0):
    """The head's forward pass written out with functional ops and its own weights: 3x3
    conv + ReLU per conv, then per stage bilinear x2 (half-pixel centres) + 3x3 conv +
    ReLU, then the 1x1 class predictor."""

    def conv_relu(conv, x):
        x = F.conv2d(x, conv.weight, conv.bias, padding=1)
        if norm_groups:
            x = F.group_norm(x, norm_groups, conv.norm.weight, conv.norm.bias)
        return F.relu(x)

    for conv in head.convs:
        x = conv_relu(conv, x)
    for stage in range(stages):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = conv_relu(head.upsample[stage][1], x)
    return F.conv2d(x, head.predictor.weight, head.predictor.bias)


@pytest.mark.parametrize("stages, side", [(1, 28), (2, 56)])
@pytest.mark.parametrize("norm", ["", "GN"])
def test_mask_logits_of_one_roi_equal_a_reference_by_hand(stages, side, norm):
    torch.manual_seed(0)
    # in float64: the head's CPU kernels (channels-last after the upsampling) and the
    # reference's sum in another order, which float32 rounding would show
    head = (
        _head("MODEL.ROI_MASK_HEAD.UPSAMPLE_STAGES", stages, "MODEL.ROI_MASK_HEAD.NORM", norm)
        .double()
        .eval()
    )
    with torch.no_grad():  # a visible predictor (its init is near zero) and norm affines
        head.predictor.weight.normal_()
        for module in head.modules():
            if isinstance(module, torch.nn.GroupNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    roi = torch.randn(1, 8, 14, 14, dtype=torch.float64)
    with torch.no_grad():
        logits = head.layers(roi)
        expected = _reference_mask_logits(head, roi, stages, norm_groups=32 if norm else 0)
    assert logits.shape == expected.shape == (1, 4, side, side)
    torch.testing.assert_close(logits, expected)


def test_class_agnostic_masks_have_one_channel():
    head = _head("MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK", True)
    assert head.layers(torch.randn(2, 8, 14, 14)).shape == (2, 1, 28, 28)


def test_bilinear_mode_has_no_transposed_convolution():
    head = _head()
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in head.modules())
    assert any(
        isinstance(m, torch.nn.ConvTranspose2d)
        for m in _head("MODEL.ROI_MASK_HEAD.UPSAMPLE_MODE", "deconv").modules()
    )


def test_unknown_upsample_mode_is_named():
    with pytest.raises(ValueError, match="'nearest'"):
        _head("MODEL.ROI_MASK_HEAD.UPSAMPLE_MODE", "nearest")


def test_dice_loss_by_hand():
    logits = torch.zeros(1, 2, 2)  # p = 0.5 everywhere
    target = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    # overlap 0.5, sums 2 + 1: 1 - (2 * 0.5 + 1) / (3 + 1)
    assert binary_dice_loss(logits, target).item() == pytest.approx(0.5)
    certain = torch.where(target.bool(), 20.0, -20.0)
    assert binary_dice_loss(certain, target).item() == pytest.approx(0.0, abs=1e-6)
    assert binary_dice_loss(torch.zeros(0, 2, 2), torch.zeros(0, 2, 2)).item() == 0


def _square_target():
    target = torch.zeros(1, 8, 8)
    target[0, 2:6, 2:6] = 1  # 4x4 square
    return target


def test_boundary_band_by_hand():
    band = boundary_band(_square_target())
    # dilated: rows/cols 1..6 (36 px); eroded: rows/cols 3..4 (4 px)
    assert band.sum().item() == 32
    assert band[0, 1, 1] and band[0, 2, 2] and not band[0, 3, 3] and not band[0, 0, 0]


def test_boundary_bce_by_hand():
    target = _square_target()
    assert boundary_bce_loss(torch.zeros(1, 8, 8), target).item() == pytest.approx(math.log(2))
    # logit 2 everywhere: 12 band pixels inside the mask, 20 outside
    expected = (12 * math.log(1 + math.exp(-2)) + 20 * math.log(1 + math.exp(2))) / 32
    assert boundary_bce_loss(torch.full((1, 8, 8), 2.0), target).item() == pytest.approx(expected)


def _instances():
    instances = Instances((32, 32))
    instances.proposal_boxes = Boxes(torch.tensor([[0.0, 0.0, 16.0, 16.0], [8.0, 8.0, 30.0, 30.0]]))
    instances.gt_classes = torch.tensor([2, 0])
    masks = torch.zeros(2, 32, 32, dtype=torch.bool)
    masks[0, 2:12, 3:14] = True
    masks[1, 10:28, 12:20] = True
    instances.gt_masks = BitMasks(masks)
    return [instances]


def test_training_losses_agree_with_mask_rcnn_loss_and_the_terms():
    head = _head(
        "MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT", 0.5, "MODEL.ROI_MASK_HEAD.BOUNDARY_LOSS_WEIGHT", 2.0
    )
    head.train()
    features = torch.randn(2, 8, 14, 14, generator=torch.Generator().manual_seed(0))
    with EventStorage(0):
        losses = head(features, _instances())
    logits, targets = gt_class_logits_and_targets(head.layers(features), _instances())
    assert logits.shape == targets.shape == (2, 28, 28)
    assert losses["loss_mask"].item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, targets).item(), rel=1e-5
    )
    assert losses["loss_mask_dice"].item() == pytest.approx(
        0.5 * binary_dice_loss(logits, targets).item(), rel=1e-5
    )
    assert losses["loss_mask_boundary"].item() == pytest.approx(
        2.0 * boundary_bce_loss(logits, targets).item(), rel=1e-5
    )


def test_without_extra_weights_only_the_mask_rcnn_loss_is_returned():
    head = _head("MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT", 0.0)  # the demo's config sets 1.0
    head.train()
    with EventStorage(0):
        assert set(head(torch.randn(2, 8, 14, 14), _instances())) == {"loss_mask"}


def test_inference_sets_pred_masks_of_the_predicted_class():
    head = _head()
    head.eval()
    instances = Instances((32, 32))
    instances.pred_boxes = Boxes(torch.tensor([[0.0, 0.0, 16.0, 16.0]]))
    instances.pred_classes = torch.tensor([3])
    (out,) = head(torch.randn(1, 8, 14, 14), [instances])
    assert out.pred_masks.shape == (1, 1, 28, 28)
    assert ((out.pred_masks >= 0) & (out.pred_masks <= 1)).all()


def _empty_instances():
    instances = Instances((32, 32))
    instances.proposal_boxes = Boxes(torch.zeros(0, 4))
    instances.gt_classes = torch.zeros(0, dtype=torch.int64)
    instances.gt_masks = BitMasks(torch.zeros(0, 32, 32, dtype=torch.bool))
    return instances


def test_gt_class_logits_and_targets_pick_each_rois_class_across_images():
    """Two images with RoIs around one without: RoI k's logits of its ground-truth class,
    in order, and its mask cropped to the box at the logits' size."""
    (first,) = _instances()
    second = Instances((32, 32))
    second.proposal_boxes = Boxes(torch.tensor([[4.0, 4.0, 20.0, 24.0]]))
    second.gt_classes = torch.tensor([1])
    second.gt_masks = BitMasks(first.gt_masks.tensor[1:])
    logits = torch.arange(3 * 4 * 7 * 7, dtype=torch.float32).reshape(3, 4, 7, 7)
    chosen, targets = gt_class_logits_and_targets(logits, [first, _empty_instances(), second])
    assert torch.equal(chosen, torch.stack([logits[0, 2], logits[1, 0], logits[2, 1]]))
    expected = torch.cat(
        [
            first.gt_masks.crop_and_resize(first.proposal_boxes.tensor, 7),
            second.gt_masks.crop_and_resize(second.proposal_boxes.tensor, 7),
        ]
    )
    assert targets.dtype == torch.float32 and torch.equal(targets, expected.float())


def test_gt_class_logits_and_targets_class_agnostic_and_without_rois():
    (instances,) = _instances()
    logits = torch.randn(2, 1, 6, 6)
    chosen, targets = gt_class_logits_and_targets(logits, [instances])
    assert torch.equal(chosen, logits[:, 0]) and targets.shape == (2, 6, 6)
    for classes in (4, 1):
        none, no_targets = gt_class_logits_and_targets(
            torch.randn(0, classes, 6, 6), [_empty_instances()]
        )
        assert none.shape == no_targets.shape == (0, 6, 6)


def test_dice_loss_averages_per_mask():
    """Two masks: one predicted exactly (loss ~0), one predicted empty against a full
    target (loss 1 - 1/(16+1)): the mean of the two, not the Dice of their union."""
    target = torch.zeros(2, 4, 4)
    target[0, :2] = 1
    target[1] = 1
    logits = torch.where(target.bool(), 30.0, -30.0)
    logits[1] = -30.0
    expected = (0 + (1 - 1 / 17)) / 2
    assert binary_dice_loss(logits, target).item() == pytest.approx(expected, abs=1e-6)


def test_boundary_bce_with_bool_targets_a_wider_band_and_nothing_to_score():
    target = _square_target()
    logits = torch.full((1, 8, 8), 2.0)
    assert boundary_bce_loss(logits, target.bool()).item() == pytest.approx(
        boundary_bce_loss(logits, target).item()
    )
    assert torch.equal(boundary_band(target.bool()), boundary_band(target))
    # width 2: every pixel of the 8x8 image lies within 2 of the square's edge
    assert boundary_band(target, 2).all() and not boundary_band(target, 1).all()
    wide = F.binary_cross_entropy_with_logits(logits[0], target[0])
    assert boundary_bce_loss(logits, target, 2).item() == pytest.approx(wide.item())
    # no mask edge (an empty target) or no masks at all: zero, still differentiable
    nothing = boundary_bce_loss(logits, torch.zeros(1, 8, 8))
    assert nothing.item() == 0 and nothing.requires_grad is logits.requires_grad
    assert boundary_bce_loss(torch.zeros(0, 8, 8), torch.zeros(0, 8, 8)).item() == 0


@pytest.mark.parametrize(
    "dice, boundary, terms",
    [
        (0.5, 0.0, {"loss_mask", "loss_mask_dice"}),
        (0.0, 2.0, {"loss_mask", "loss_mask_boundary"}),
    ],
)
def test_each_extra_term_alone_is_added(dice, boundary, terms):
    head = _head(
        "MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT",
        dice,
        "MODEL.ROI_MASK_HEAD.BOUNDARY_LOSS_WEIGHT",
        boundary,
    )
    head.train()
    with EventStorage(0):
        assert set(head(torch.randn(2, 8, 14, 14), _instances())) == terms


def test_the_loss_weight_scales_every_term():
    features = torch.randn(2, 8, 14, 14, generator=torch.Generator().manual_seed(0))
    opts = ("MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT", 0.5)
    head = _head(*opts)
    head.train()
    with EventStorage(0):
        once = head(features, _instances())
        head.loss_weight = 3.0
        thrice = head(features, _instances())
    for term in ("loss_mask", "loss_mask_dice"):
        assert thrice[term].item() == pytest.approx(3.0 * once[term].item(), rel=1e-5)


def test_the_visualisation_period_reaches_detectron2s_mask_loss():
    """detectron2's mask_rcnn_loss draws the predicted and true masks into the event
    storage every VIS_PERIOD iterations."""
    head = _head("VIS_PERIOD", 1)
    head.train()
    with EventStorage(0) as storage:
        head(torch.randn(2, 8, 14, 14), _instances())
    assert [name for name, _, _ in storage._vis_data] == [
        f"Left: mask prediction;   Right: mask GT ({k})"
        for k in range(2)  # one per RoI
    ]
