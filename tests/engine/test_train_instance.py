"""End to end through tools/train_net.py on a tiny shapes split: training lowers the
loss and writes what detectron2 users expect; --eval-only (also with test-time
augmentation) and --resume work."""

import json
import os
import shutil

import pytest
import torch
from helpers import MASK_RCNN, metrics, train_net

pytestmark = pytest.mark.slow

CONFIG = MASK_RCNN


@pytest.fixture
def tiny_run(tiny_shapes, trained_mask_rcnn):
    return tiny_shapes, *trained_mask_rcnn


def test_training_lowers_the_loss_and_writes_the_expected_files(tiny_run):
    _, output, _ = tiny_run
    losses = [m["total_loss"] for m in metrics(output) if "total_loss" in m]
    assert len(losses) >= 2 and losses[-1] < losses[0]
    for name in (
        "model_final.pth",
        "best/model_best.pth",
        "last_checkpoint",
        "metrics.json",
        "results.json",
        "inference/tiny_val/coco_instances_results.json",
        "config.yaml",
    ):
        assert (output / name).exists(), name
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(output))
    results = json.loads((output / "results.json").read_text())
    assert {"bbox", "segm"} <= set(results) and "AP" in results["segm"]


def test_eval_only_reproduces_the_final_ap(tiny_run, tmp_path):
    data, output, _ = tiny_run
    trained = json.loads((output / "results.json").read_text())
    train_net(
        CONFIG, tmp_path, data, "--eval-only", "MODEL.WEIGHTS", str(output / "model_final.pth")
    )
    evaluated = json.loads((tmp_path / "results.json").read_text())
    assert evaluated["segm"]["AP"] == pytest.approx(trained["segm"]["AP"], abs=1e-9)
    assert evaluated["bbox"]["AP"] == pytest.approx(trained["bbox"]["AP"], abs=1e-9)


def test_eval_only_with_test_time_augmentation_scores_the_augmented_model(tiny_run, tmp_path):
    data, output, _ = tiny_run
    train_net(
        CONFIG,
        tmp_path,
        data,
        "--eval-only",
        "MODEL.WEIGHTS",
        str(output / "model_final.pth"),
        "TEST.AUG.ENABLED",
        "True",
        "TEST.AUG.MIN_SIZES",
        "(128, 160)",
    )
    evaluated = json.loads((tmp_path / "results.json").read_text())
    trained = json.loads((output / "results.json").read_text())
    assert {"bbox", "segm"} <= set(evaluated)
    # The same weights score otherwise when each image is also seen at other sizes, flipped.
    assert evaluated["segm"]["AP"] != pytest.approx(trained["segm"]["AP"], abs=1e-9)


def test_resume_continues_from_the_last_iteration(tiny_run, tmp_path):
    data, trained, _ = tiny_run
    output = tmp_path / "resumed"
    shutil.copytree(trained, output)
    final = torch.load(output / "model_final.pth", map_location="cpu", weights_only=False)
    assert final["iteration"] == 39
    log = train_net(CONFIG, output, data, "--resume", "SOLVER.STEPS", "()", "SOLVER.MAX_ITER", "50")
    assert (output / "last_checkpoint").read_text() == "model_final.pth"
    assert "Starting training from iteration 40" in log
    # One training record per 20 iterations: 19 and 39 from the first run, 49 after resuming.
    assert [m["iteration"] for m in metrics(output) if "total_loss" in m] == [19, 39, 49]
