"""Every architecture config trains a step and evaluates on a tiny shapes split through
tools/train_net.py, with the evaluator of its task."""

import json

import pytest
from helpers import train_net

pytestmark = pytest.mark.slow

SEMANTIC = [
    "configs/shapes/deeplabv3plus_R18.yaml",
    "configs/shapes/pspnet_R18.yaml",
    "configs/shapes/fpn_R18.yaml",
    "configs/shapes/segformer_mit_b0.yaml",
    "configs/shapes/hrnet_w18.yaml",
    "configs/shapes/semantic_fpn_R18.yaml",
]


@pytest.mark.parametrize("config", SEMANTIC)
def test_semantic_architecture_trains_and_reports_miou(config, tiny_shapes, tmp_path):
    train_net(
        config,
        tmp_path,
        tiny_shapes,
        *("SOLVER.MAX_ITER", "2", "TEST.EVAL_PERIOD", "2", "SOLVER.IMS_PER_BATCH", "2"),
        datasets=("tiny_train_sem_seg", "tiny_val_sem_seg"),
        size=128,
    )
    results = json.loads((tmp_path / "results.json").read_text())["sem_seg"]
    assert 0 <= results["mIoU"] <= 100 and "mDice" in results
    assert (tmp_path / "model_final.pth").exists()


def test_faster_rcnn_trains_and_reports_box_ap_only(tiny_shapes, tmp_path):
    train_net(
        "configs/shapes/faster_rcnn_R18_FPN.yaml",
        tmp_path,
        tiny_shapes,
        *("SOLVER.MAX_ITER", "2", "TEST.EVAL_PERIOD", "2"),
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) == {"bbox"}
    assert "AP" in results["bbox"]
    assert (tmp_path / "best" / "model_best.pth").exists()  # chosen on bbox/AP
