"""End to end through tools/train_net.py on a tiny shapes split: training lowers the
loss and writes what detectron2 users expect; --eval-only and --resume work."""
import json
import os
import subprocess
import sys

import pytest
import torch

from seg_d2.data.shapes import generate_shapes_split

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_NET = os.path.join(REPO, "tools", "train_net.py")
CONFIG = os.path.join(REPO, "configs", "shapes", "mask_rcnn_R18_FPN.yaml")


def _train_net(output_dir, data, *args):
    command = [
        sys.executable, TRAIN_NET, "--config-file", CONFIG, *args,
        "DATASETS.COCO_FORMAT",
        f"['tiny_train={data}/annotations/instances_train.json:{data}/train',"
        f"'tiny_val={data}/annotations/instances_val.json:{data}/val']",
        "DATASETS.TRAIN", "('tiny_train',)", "DATASETS.TEST", "('tiny_val',)",
        "INPUT.MIN_SIZE_TRAIN", "(160,)", "INPUT.MIN_SIZE_TEST", "160",
        "SOLVER.IMS_PER_BATCH", "2", "SOLVER.BASE_LR", "0.01", "SOLVER.WARMUP_ITERS", "5",
        "SOLVER.STEPS", "()", "SOLVER.CHECKPOINT_PERIOD", "20", "TEST.EVAL_PERIOD", "20",
        "DATALOADER.NUM_WORKERS", "0", "MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(output_dir),
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


def _metrics(output_dir):
    with open(output_dir / "metrics.json") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("tiny_shapes")
    generate_shapes_split(data, "train", seed=10, num_images=8)
    generate_shapes_split(data, "val", seed=11, num_images=4)
    output = tmp_path_factory.mktemp("output")
    log = _train_net(output, data, "SOLVER.MAX_ITER", "40")
    return data, output, log


def test_training_lowers_the_loss_and_writes_the_expected_files(tiny_run):
    _, output, _ = tiny_run
    losses = [m["total_loss"] for m in _metrics(output) if "total_loss" in m]
    assert len(losses) >= 2 and losses[-1] < losses[0]
    for name in ("model_final.pth", "best/model_best.pth", "last_checkpoint", "metrics.json", "results.json",
                 "inference/tiny_val/coco_instances_results.json", "config.yaml"):
        assert (output / name).exists(), name
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(output))
    results = json.loads((output / "results.json").read_text())
    assert {"bbox", "segm"} <= set(results) and "AP" in results["segm"]


def test_eval_only_reproduces_the_final_ap(tiny_run, tmp_path):
    data, output, _ = tiny_run
    trained = json.loads((output / "results.json").read_text())
    _train_net(tmp_path, data, "--eval-only", "MODEL.WEIGHTS", str(output / "model_final.pth"))
    evaluated = json.loads((tmp_path / "results.json").read_text())
    assert evaluated["segm"]["AP"] == pytest.approx(trained["segm"]["AP"], abs=1e-9)
    assert evaluated["bbox"]["AP"] == pytest.approx(trained["bbox"]["AP"], abs=1e-9)


def test_resume_continues_from_the_last_iteration(tiny_run):
    data, output, _ = tiny_run
    final = torch.load(output / "model_final.pth", map_location="cpu", weights_only=False)
    assert final["iteration"] == 39
    log = _train_net(output, data, "--resume", "SOLVER.MAX_ITER", "50")
    assert (output / "last_checkpoint").read_text() == "model_final.pth"
    assert "Starting training from iteration 40" in log
    # One training record per 20 iterations: 19 and 39 from the first run, 49 after resuming.
    assert [m["iteration"] for m in _metrics(output) if "total_loss" in m] == [19, 39, 49]
