"""The U-Net end to end through tools/train_net.py on a tiny shapes split: the loss
goes down and SemSegEvaluator's metrics, with Dice, land in results.json."""

import json

import pytest
from helpers import metrics

pytestmark = pytest.mark.slow


def test_unet_training_lowers_the_loss_and_reports_miou_and_dice(trained_unet):
    losses = [m["total_loss"] for m in metrics(trained_unet) if "total_loss" in m]
    assert len(losses) == 2 and losses[-1] < losses[0]
    results = json.loads((trained_unet / "results.json").read_text())["sem_seg"]
    classes = ["circle", "triangle", "square", "star", "sky", "ground"]
    assert {"mIoU", "fwIoU", "mACC", "pACC", "mDice"} <= set(results)
    assert {f"IoU-{c}" for c in classes} | {f"Dice-{c}" for c in classes} <= set(results)
    assert 0 < results["mIoU"] <= 100
    assert (trained_unet / "best" / "model_best.pth").exists()
    assert (trained_unet / "inference" / "tiny_val_sem_seg" / "sem_seg_predictions.json").exists()
