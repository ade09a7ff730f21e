"""SemSegDiceEvaluator on a fixed prediction: detectron2's mIoU and seg_d2's Dice equal
a direct per-class count of intersections and unions."""

import warnings

from seg_d2.evaluation import SemSegDiceEvaluator

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import semantic_records

CLASSES = ["a", "b", "c", "d"]


@pytest.fixture
def fixed_case(tmp_path):
    rng = np.random.default_rng(0)
    truths = [
        rng.integers(0, 3, (12, 17)).astype(np.uint8) for _ in range(2)
    ]  # "d" never in the truth
    truths[0][:3] = 255
    predictions = [
        np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, 4, t.shape)) % 255 for t in truths
    ]
    predictions[1][:, 0] = 3  # "d" predicted, so it counts with IoU 0
    records = semantic_records(tmp_path, truths)
    DatasetCatalog.register("eval_test", lambda: records)
    MetadataCatalog.get("eval_test").set(stuff_classes=CLASSES, ignore_label=255)
    yield records, truths, predictions
    DatasetCatalog.remove("eval_test")
    MetadataCatalog.remove("eval_test")


def test_miou_and_dice_equal_a_direct_count(fixed_case):
    records, truths, predictions = fixed_case
    evaluator = SemSegDiceEvaluator("eval_test", distributed=False)
    evaluator.reset()
    for record, prediction in zip(records, predictions):
        logits = torch.nn.functional.one_hot(
            torch.from_numpy(prediction.astype(np.int64)), 4
        ).permute(2, 0, 1)
        evaluator.process([record], [{"sem_seg": logits.float()}])
    metrics = evaluator.evaluate()["sem_seg"]

    truth, prediction = (
        np.concatenate([t.ravel() for t in truths]),
        np.concatenate([p.ravel() for p in predictions]),
    )
    valid = truth != 255
    ious, dices = [], []
    for c in range(len(CLASSES)):
        in_truth, in_prediction = (truth == c) & valid, (prediction == c) & valid
        intersection = (in_truth & in_prediction).sum()
        ious.append(intersection / (in_truth | in_prediction).sum())
        dices.append(2 * intersection / (in_truth.sum() + in_prediction.sum()))
    assert ious[3] == dices[3] == 0
    assert metrics["mIoU"] == pytest.approx(100 * np.mean(ious), abs=1e-9)
    assert metrics["mDice"] == pytest.approx(100 * np.mean(dices), abs=1e-9)
    for name, iou, dice in zip(CLASSES[:3], ious, dices):
        assert metrics[f"IoU-{name}"] == pytest.approx(100 * iou, abs=1e-9)
        assert metrics[f"Dice-{name}"] == pytest.approx(100 * dice, abs=1e-9)
    assert metrics["pACC"] == pytest.approx(100 * (truth == prediction)[valid].mean(), abs=1e-9)


def test_dice_of_a_one_pixel_class_an_absent_class_and_no_warning():
    """Rows: prediction, columns: truth, the last of each the ignore label. Class 0: 3
    pixels right and 1 predicted as class 1; class 1: that single pixel (Dice 0);
    class 2 neither predicted nor true (NaN, without a division warning)."""
    from seg_d2.evaluation.sem_seg_dice import dice_from_confusion

    confusion = np.zeros((4, 4), np.int64)
    confusion[0, 0] = 3
    confusion[1, 0] = 1
    confusion[3, 0] = 5  # ignored pixels do not count
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dice = dice_from_confusion(confusion)
    assert dice[0] == pytest.approx(6 / 7) and dice[1] == 0 and np.isnan(dice[2])


def test_mdice_is_nan_without_a_counted_pixel(fixed_case):
    records, truths, _ = fixed_case
    evaluator = SemSegDiceEvaluator("eval_test", distributed=False)
    evaluator.reset()  # nothing processed: every class NaN
    with warnings.catch_warnings():
        warnings.filterwarnings("error", module="seg_d2")
        metrics = evaluator.evaluate()["sem_seg"]
    assert np.isnan(metrics["mDice"]) and all(np.isnan(metrics[f"Dice-{c}"]) for c in CLASSES)
