"""Semantic loss terms against hand-computed values (ignore label included) and the
inverse-frequency class weights, computed when the config is loaded."""

import math

from seg_d2.config_setup import load_config, setup_config
from seg_d2.data.class_weights import class_pixel_counts, inverse_frequency_weights
from seg_d2.modeling.losses import (
    SemanticSegmentationLoss,
    cross_entropy_loss,
    focal_loss,
    multiclass_dice_loss,
)

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.modeling import build_model
from helpers import semantic_records

UNET = "configs/shapes/unet.yaml"

# Three pixels, two classes. Pixel 0: p = (1/4, 3/4), label 1. Pixel 1: p = (1/2, 1/2),
# label 0. Pixel 2: ignored, with logits that would cost a lot if it counted.
LOGITS = torch.tensor([[0.0, math.log(3)], [0.0, 0.0], [50.0, -50.0]]).T.reshape(1, 2, 1, 3)
TARGETS = torch.tensor([[[1, 0, 255]]])
LOSS_0, LOSS_1 = -math.log(3 / 4), math.log(2)


def test_cross_entropy_skips_the_ignore_label():
    assert cross_entropy_loss(LOGITS, TARGETS).item() == pytest.approx(
        (LOSS_0 + LOSS_1) / 2, rel=1e-6
    )


def test_class_weights_weigh_each_pixel_by_its_label():
    weighted = cross_entropy_loss(LOGITS, TARGETS, class_weights=torch.tensor([1.0, 2.0]))
    assert weighted.item() == pytest.approx((2 * LOSS_0 + 1 * LOSS_1) / 3, rel=1e-6)


def test_focal_loss_down_weights_confident_pixels():
    expected = ((1 / 4) ** 2 * LOSS_0 + (1 / 2) ** 2 * LOSS_1) / 2
    assert focal_loss(LOGITS, TARGETS, gamma=2).item() == pytest.approx(expected, rel=1e-6)
    assert focal_loss(LOGITS, TARGETS).item() == pytest.approx(expected, rel=1e-6)  # RetinaNet's 2
    assert focal_loss(LOGITS, TARGETS, gamma=0).item() == pytest.approx(
        (LOSS_0 + LOSS_1) / 2, rel=1e-6
    )


def test_multiclass_dice_by_hand():
    # class 0: overlap 1/2, sum p = 3/4, sum t = 1; class 1: overlap 3/4, sum p = 5/4, sum t = 1
    dice_0 = (2 * 0.5 + 1) / (0.75 + 1 + 1)
    dice_1 = (2 * 0.75 + 1) / (1.25 + 1 + 1)
    expected = 1 - (dice_0 + dice_1) / 2
    assert multiclass_dice_loss(LOGITS, TARGETS).item() == pytest.approx(expected, rel=1e-6)


def test_dice_of_a_perfect_prediction_is_near_zero_and_ignored_pixels_never_count():
    targets = torch.tensor([[[0, 1, 1, 255]]])
    logits = torch.nn.functional.one_hot(targets.clamp(max=1), 2).permute(0, 3, 1, 2).float() * 40
    assert multiclass_dice_loss(logits, targets).item() == pytest.approx(0, abs=1e-6)
    flipped = logits.clone()
    flipped[..., 3] = flipped[..., 3].flip(1)
    for loss in (multiclass_dice_loss, cross_entropy_loss, focal_loss):
        assert loss(flipped, targets).item() == pytest.approx(
            loss(logits, targets).item(), abs=1e-7
        )


def test_all_pixels_ignored_costs_nothing_and_stays_differentiable():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    targets = torch.full((1, 2, 2), 255)
    for loss in (cross_entropy_loss, focal_loss):
        value = loss(logits, targets)
        value.backward()
        assert value.item() == 0


def test_inverse_frequency_weights():
    assert inverse_frequency_weights([1, 3, 0]).tolist() == pytest.approx([1.5, 0.5, 0.0])
    with pytest.raises(ValueError) as error:
        inverse_frequency_weights([0, 0])
    assert str(error.value) == "no labelled pixels: cannot weight classes by frequency"


def test_class_pixel_counts_over_a_registered_dataset(tmp_path):
    labels = [np.array([[0, 0, 1], [255, 2, 2]], np.uint8), np.array([[1, 1, 255]], np.uint8)]
    records = semantic_records(tmp_path, labels)
    DatasetCatalog.register("count_test", lambda: records)
    try:
        counts = class_pixel_counts(["count_test"], 3)
        assert counts.tolist() == [2, 3, 2] and counts.dtype == np.int64  # exact at any size
        with pytest.raises(ValueError, match=r"0\.png: label 2 is not below NUM_CLASSES=2"):
            class_pixel_counts(["count_test"], 2)
    finally:
        DatasetCatalog.remove("count_test")


def test_inverse_frequency_class_weights_become_numbers_when_the_config_is_set_up(tmp_path):
    labels = [np.array([[0, 0, 1], [255, 1, 1]], np.uint8), np.array([[1, 1, 1]], np.uint8)]
    records = semantic_records(tmp_path, labels)
    DatasetCatalog.register("weights_test", lambda: records)
    try:
        cfg = setup_config(
            UNET,
            [
                "DATASETS.TRAIN",
                "('weights_test',)",
                "DATASETS.TEST",
                "()",
                "MODEL.SEM_SEG_HEAD.NUM_CLASSES",
                "2",
                "MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS",
                "['inverse_frequency']",
            ],
        )
    finally:
        DatasetCatalog.remove("weights_test")
    # 2 pixels of class 0 and 6 of class 1: weights 1/2 and 1/6, scaled to average 1
    assert cfg.MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS == pytest.approx([1.5, 0.5])
    # the model builds from the numbers alone, with the training data gone (load_config
    # reads no data)
    saved = tmp_path / "config.yaml"
    saved.write_text(cfg.dump())
    reloaded = load_config(str(saved), ["MODEL.DEVICE", "cpu", "MODEL.UNET.BASE_CHANNELS", "4"])
    model = build_model(reloaded)
    assert model.sem_seg_head.loss.class_weights.tolist() == pytest.approx([1.5, 0.5])


def test_class_weights_that_are_not_numbers_are_named():
    with pytest.raises(
        ValueError, match=r"CLASS_WEIGHTS must be numbers .*\['inverse_frequency', 'x'\]"
    ):
        build_model(
            setup_config(
                UNET,
                [
                    "MODEL.DEVICE",
                    "cpu",
                    "MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS",
                    "['inverse_frequency', 'x']",
                ],
            )
        )


def test_the_loss_module_gives_each_term_its_weight_ignore_label_and_class_weights():
    targets = torch.where(TARGETS == 255, 9, TARGETS)  # 9: this module's ignore label
    weights = torch.tensor([1.0, 2.0])
    loss = SemanticSegmentationLoss(
        ignore_value=9,
        cross_entropy_weight=0.5,
        dice_weight=2.0,
        focal_weight=3.0,
        focal_gamma=1.0,
        class_weights=[1.0, 2.0],
    )
    terms = loss(LOGITS, targets)
    expected = {
        "loss_sem_seg": 0.5 * cross_entropy_loss(LOGITS, TARGETS, class_weights=weights),
        "loss_sem_seg_dice": 2.0 * multiclass_dice_loss(LOGITS, TARGETS),
        "loss_sem_seg_focal": 3.0 * focal_loss(LOGITS, TARGETS, gamma=1.0),
    }
    assert terms.keys() == expected.keys()
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value.item(), rel=1e-6), name
    assert list(SemanticSegmentationLoss(dice_weight=0.0)(LOGITS, TARGETS)) == ["loss_sem_seg"]
