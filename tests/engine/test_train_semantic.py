"""The U-Net end to end through tools/train_net.py on a tiny shapes split: the loss
goes down and SemSegEvaluator's metrics, with Dice, land in results.json."""

import json

import pytest
from conftest import metrics, train_net

pytestmark = pytest.mark.slow


def test_unet_training_lowers_the_loss_and_reports_miou_and_dice(tiny_shapes, tmp_path):
    train_net(
        "configs/shapes/unet.yaml",
        tmp_path,
        tiny_shapes,
        "SOLVER.MAX_ITER",
        "40",
        "SOLVER.BASE_LR",
        "0.002",
        datasets=("tiny_train_sem_seg", "tiny_val_sem_seg"),
    )
    losses = [m["total_loss"] for m in metrics(tmp_path) if "total_loss" in m]
    assert len(losses) == 2 and losses[-1] < losses[0]
    results = json.loads((tmp_path / "results.json").read_text())["sem_seg"]
    classes = ["circle", "triangle", "square", "star", "sky", "ground"]
    assert {"mIoU", "fwIoU", "mACC", "pACC", "mDice"} <= set(results)
    assert {f"IoU-{c}" for c in classes} | {f"Dice-{c}" for c in classes} <= set(results)
    assert 0 < results["mIoU"] <= 100
    assert (tmp_path / "best" / "model_best.pth").exists()
    assert (tmp_path / "inference" / "tiny_val_sem_seg" / "sem_seg_predictions.json").exists()
