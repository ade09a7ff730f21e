"""Properties (hypothesis) of the semantic losses: ignored pixels never count, a perfect
prediction costs nothing, Dice losses lie in [0, 1]."""

from seg_d2.modeling.losses import (
    binary_dice_loss,
    cross_entropy_loss,
    focal_loss,
    multiclass_dice_loss,
)

import torch
from helpers import label_maps
from hypothesis import given


@given(label_maps())
def test_ignored_pixels_never_change_a_loss(case):
    logits, targets = case
    changed = logits.clone()
    ignored = (targets == 255).unsqueeze(1).expand_as(logits)
    changed[ignored] = -changed[ignored] * 5 + 1
    for loss in (cross_entropy_loss, multiclass_dice_loss, focal_loss):
        assert torch.allclose(loss(logits, targets), loss(changed, targets), atol=1e-6), (
            loss.__name__
        )
        assert torch.isfinite(loss(logits, targets))
    if (targets == 255).all():
        assert all(
            loss(logits, targets) == 0
            for loss in (cross_entropy_loss, multiclass_dice_loss, focal_loss)
        )


@given(label_maps())
def test_losses_vanish_on_a_perfect_prediction(case):
    _, targets = case
    perfect = torch.nn.functional.one_hot(targets.clamp(max=3), 4).permute(0, 3, 1, 2).float() * 50
    assert cross_entropy_loss(perfect, targets) < 1e-6
    assert focal_loss(perfect, targets) < 1e-6
    assert multiclass_dice_loss(perfect, targets) < 1e-6
    masks = targets == 0
    assert binary_dice_loss((masks.float() * 2 - 1) * 50, masks) < 1e-6


@given(label_maps())
def test_dice_losses_lie_between_0_and_1(case):
    logits, targets = case
    assert 0 <= multiclass_dice_loss(logits, targets) <= 1
    assert 0 <= binary_dice_loss(logits[:, 0], targets == 0) <= 1
