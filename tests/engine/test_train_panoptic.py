"""Panoptic end to end on a tiny shapes split: PanopticFPN with seg_d2's heads trained
through tools/train_net.py, and tools/combine_panoptic.py on an instance and a semantic
model trained apart; both report COCO AP, mIoU and PQ."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, metrics, train_net

pytestmark = pytest.mark.slow

PANOPTIC_KEYS = {
    f"{metric}{group}" for metric in ("PQ", "SQ", "RQ") for group in ("", "_th", "_st")
}


def _assert_all_three_metric_groups(results):
    assert {"bbox", "segm", "sem_seg", "panoptic_seg"} <= set(results)
    assert PANOPTIC_KEYS <= set(results["panoptic_seg"])
    assert "mIoU" in results["sem_seg"] and "AP" in results["segm"]
    assert set(results["sem_seg"]) >= {"IoU-things", "IoU-sky", "IoU-ground"}


def test_panoptic_fpn_trains_and_reports_ap_miou_and_pq(tiny_shapes, tmp_path):
    train_net(
        "configs/shapes/panoptic_fpn_R18.yaml",
        tmp_path,
        tiny_shapes,
        "SOLVER.MAX_ITER",
        "40",
        "SOLVER.STEPS",
        "()",
        datasets=("tiny_train_panoptic_separated", "tiny_val_panoptic_separated"),
    )
    losses = [m["total_loss"] for m in metrics(tmp_path) if "total_loss" in m]
    assert len(losses) == 2 and losses[-1] < losses[0]
    assert "loss_sem_seg" in metrics(tmp_path)[-2]
    _assert_all_three_metric_groups(json.loads((tmp_path / "results.json").read_text()))


def test_combine_panoptic_joins_models_trained_apart(tiny_shapes, tmp_path):
    common = ("SOLVER.MAX_ITER", "10", "SOLVER.STEPS", "()", "TEST.EVAL_PERIOD", "0")
    train_net("configs/shapes/mask_rcnn_R18_FPN.yaml", tmp_path / "instance", tiny_shapes, *common)
    train_net(
        "configs/shapes/unet.yaml",
        tmp_path / "semantic",
        tiny_shapes,
        *common,
        datasets=("tiny_train_sem_seg", "tiny_val_sem_seg"),
    )
    dataset_line = f"['tiny_val={tiny_shapes}/annotations/instances_val.json:{tiny_shapes}/val']"
    run = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "tools", "combine_panoptic.py"),
            "--instance-config",
            os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
            "--instance-weights",
            str(tmp_path / "instance" / "model_final.pth"),
            "--semantic-config",
            os.path.join(REPO, "configs/shapes/unet.yaml"),
            "--semantic-weights",
            str(tmp_path / "semantic" / "model_final.pth"),
            "--dataset",
            "tiny_val_panoptic_separated",
            "--output-dir",
            str(tmp_path / "combined"),
            "DATASETS.COCO_FORMAT",
            dataset_line,
            "MODEL.DEVICE",
            "cpu",
            "MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH",
            "0.05",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    _assert_all_three_metric_groups(
        json.loads((tmp_path / "combined" / "results.json").read_text())
    )
