"""Panoptic end to end on a tiny shapes split: PanopticFPN with seg_d2's heads trained
through tools/train_net.py, and tools/combine_panoptic.py on an instance and a semantic
model trained apart; both report COCO AP, mIoU and PQ."""

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO, metrics

pytestmark = pytest.mark.slow

PANOPTIC_KEYS = {
    f"{metric}{group}" for metric in ("PQ", "SQ", "RQ") for group in ("", "_th", "_st")
}


def _assert_all_three_metric_groups(results):
    assert {"bbox", "segm", "sem_seg", "panoptic_seg"} <= set(results)
    assert PANOPTIC_KEYS <= set(results["panoptic_seg"])
    assert "mIoU" in results["sem_seg"] and "AP" in results["segm"]
    assert set(results["sem_seg"]) >= {"IoU-things", "IoU-sky", "IoU-ground"}


def test_panoptic_fpn_trains_and_reports_ap_miou_and_pq(trained_panoptic_fpn):
    losses = [m["total_loss"] for m in metrics(trained_panoptic_fpn) if "total_loss" in m]
    assert len(losses) == 2 and losses[-1] < losses[0]
    assert "loss_sem_seg" in metrics(trained_panoptic_fpn)[-2]
    _assert_all_three_metric_groups(json.loads((trained_panoptic_fpn / "results.json").read_text()))


def test_combine_panoptic_joins_models_trained_apart(
    tiny_shapes, tmp_path, trained_mask_rcnn, trained_unet
):
    instance, _ = trained_mask_rcnn
    dataset_line = f"['tiny_val={tiny_shapes}/annotations/instances_val.json:{tiny_shapes}/val']"
    run = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "tools", "combine_panoptic.py"),
            "--instance-config",
            os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
            "--instance-weights",
            str(instance / "model_final.pth"),
            "--semantic-config",
            os.path.join(REPO, "configs/shapes/unet.yaml"),
            "--semantic-weights",
            str(trained_unet / "model_final.pth"),
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
