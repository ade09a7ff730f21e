"""Faults in training that must lose nothing and explain themselves: a crash while a
checkpoint is written, a process killed mid-iteration or mid-checkpoint and resumed,
a diverging loss, and (the other side) runs that must repeat."""

import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys

from seg_d2.config_setup import setup_config
from seg_d2.engine import Trainer
from seg_d2.engine.checkpoint import SafeCheckpointer

import pytest
import torch
from helpers import REPO, metrics, train_net, train_net_command
from torch import nn


def test_a_crash_while_saving_leaves_the_previous_checkpoint_current(tmp_path, monkeypatch):
    checkpointer = SafeCheckpointer(nn.Linear(2, 2), str(tmp_path))
    checkpointer.save("model_0000009")

    def dies_half_way(data, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        checkpointer.save("model_0000019")
    assert not (tmp_path / "model_0000019.pth").exists()
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000009.pth"
    monkeypatch.undo()
    assert SafeCheckpointer(nn.Linear(2, 2), str(tmp_path)).resume_or_load("", resume=True) == {}
    checkpointer.save("model_0000019")  # the next save overwrites the half-written leftover
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000019.pth"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "last_checkpoint",
        "model_0000009.pth",
        "model_0000019.pth",
    ]


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_divergence_names_the_iteration_and_keeps_the_last_good_checkpoint(tiny_shapes, tmp_path):
    semantic = ("tiny_train_sem_seg", "tiny_val_sem_seg")
    train_net(
        "configs/shapes/unet.yaml",
        tmp_path,
        tiny_shapes,
        "SOLVER.MAX_ITER",
        "4",
        "TEST.EVAL_PERIOD",
        "0",
        "MODEL.UNET.DEPTH",
        "2",
        datasets=semantic,
    )
    good = tmp_path / "model_final.pth"
    fingerprint = _sha256(good)
    with pytest.raises(AssertionError) as failure:
        train_net(
            "configs/shapes/unet.yaml",
            tmp_path,
            tiny_shapes,
            "SOLVER.MAX_ITER",
            "30",
            "TEST.EVAL_PERIOD",
            "0",
            "MODEL.UNET.DEPTH",
            "2",
            "MODEL.WEIGHTS",
            str(good),
            "SOLVER.OPTIMIZER",
            "SGD",
            "SOLVER.BASE_LR",
            "1e6",
            "SOLVER.WARMUP_ITERS",
            "0",
            "SOLVER.CHECKPOINT_PERIOD",
            "1000",
            datasets=semantic,
        )
    message = str(failure.value)
    assert "Loss became infinite or NaN at iteration=" in message
    assert f"The last good checkpoint, {good}, is intact" in message
    assert "lower SOLVER.BASE_LR" in message
    assert _sha256(good) == fingerprint


# Runs tools/train_net.py and SIGKILLs it from inside at a chosen point:
#   iteration N   after iteration N has drawn its batch, before the update
#   checkpoint N  half way through writing the N-th checkpoint file
_KILLER = """
import io, os, runpy, signal, sys
where, at = sys.argv[1], int(sys.argv[2])
sys.argv = sys.argv[3:]
import seg_d2, torch
from detectron2.engine.train_loop import SimpleTrainer

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if where == "iteration":
    run_step = SimpleTrainer.run_step
    def run_step_or_die(self):
        if self.iter == at:
            next(self._data_loader_iter)
            die()
        run_step(self)
    SimpleTrainer.run_step = run_step_or_die
else:
    save, saves = torch.save, []
    def save_or_die(obj, f, *args, **kwargs):
        saves.append(f)
        if len(saves) == at:
            buffer = io.BytesIO()
            save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            f.flush()
            die()
        save(obj, f, *args, **kwargs)
    torch.save = save_or_die
runpy.run_path(sys.argv[0], run_name="__main__")
"""

# A U-Net small enough to train 30 iterations in seconds, without random augmentation:
# what is left to repeat after a resume is the model, optimizer, schedule and data order.
_RESUMABLE = (
    "SOLVER.MAX_ITER",
    "30",
    "SOLVER.CHECKPOINT_PERIOD",
    "10",
    "TEST.EVAL_PERIOD",
    "0",
    "MODEL.UNET.DEPTH",
    "2",
    "MODEL.UNET.BASE_CHANNELS",
    "8",
    "INPUT.RANDOM_FLIP",
    "none",
    "INPUT.MAX_SIZE_TRAIN",
    "64",
    "INPUT.MAX_SIZE_TEST",
    "64",
    "DATALOADER.NUM_WORKERS",
    "1",
)
_SEMANTIC = ("tiny_train_sem_seg", "tiny_val_sem_seg")


def _train_and_kill(tiny_shapes, output_dir, where, at):
    command = train_net_command(
        "configs/shapes/unet.yaml",
        output_dir,
        tiny_shapes,
        *_RESUMABLE,
        datasets=_SEMANTIC,
        size=64,
    )
    run = subprocess.run(
        [sys.executable, "-c", _KILLER, where, str(at), *command[1:]],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]


def _resume(tiny_shapes, output_dir):
    return train_net(
        "configs/shapes/unet.yaml",
        output_dir,
        tiny_shapes,
        "--resume",
        *_RESUMABLE,
        datasets=_SEMANTIC,
        size=64,
    )


def _final(output_dir):
    weights = torch.load(output_dir / "model_final.pth", map_location="cpu", weights_only=False)[
        "model"
    ]
    results = json.loads((output_dir / "results.json").read_text())["sem_seg"]
    last = [m for m in metrics(output_dir) if m.get("iteration") == 29 and "total_loss" in m][-1]
    return weights, results, last


@pytest.fixture(scope="module")
def uninterrupted(tiny_shapes, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    train_net(
        "configs/shapes/unet.yaml",
        output_dir,
        tiny_shapes,
        *_RESUMABLE,
        datasets=_SEMANTIC,
        size=64,
    )
    return output_dir


def _assert_same_run(resumed, uninterrupted):
    """Tolerance: float32 rounding. Same batches, same state: CPU kernels repeat exactly."""
    weights, results, last = resumed
    weights_0, results_0, last_0 = uninterrupted
    assert weights.keys() == weights_0.keys()
    for name in weights:
        assert torch.allclose(
            weights[name].float(), weights_0[name].float(), rtol=1e-5, atol=1e-6
        ), name
    assert results["mIoU"] == pytest.approx(results_0["mIoU"], abs=1e-3)
    assert last["lr"] == pytest.approx(last_0["lr"], rel=1e-9)
    assert last["total_loss"] == pytest.approx(last_0["total_loss"], rel=1e-4)


@pytest.mark.slow
def test_killed_mid_iteration_resumes_as_if_never_stopped(tiny_shapes, tmp_path, uninterrupted):
    _train_and_kill(tiny_shapes, tmp_path, "iteration", 15)
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000009.pth"
    log = _resume(tiny_shapes, tmp_path)
    assert "Starting training from iteration 10" in log
    _assert_same_run(_final(tmp_path), _final(uninterrupted))


@pytest.mark.slow
def test_killed_mid_checkpoint_resumes_from_the_last_complete_one(
    tiny_shapes, tmp_path, uninterrupted
):
    _train_and_kill(tiny_shapes, tmp_path, "checkpoint", 2)  # the 2nd save: model_0000019
    assert not (tmp_path / "model_0000019.pth").exists()
    (half_written,) = tmp_path.glob("model_0000019.partial-*.pth")  # the killed process's own
    with pytest.raises(Exception):
        torch.load(half_written, weights_only=False)
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000009.pth"
    log = _resume(tiny_shapes, tmp_path)
    assert "Starting training from iteration 10" in log
    _assert_same_run(_final(tmp_path), _final(uninterrupted))
    assert not list(tmp_path.glob("*.partial-*"))  # cleared when the resumed run took the folder


@pytest.mark.slow
def test_same_seed_same_losses_on_cpu(tiny_shapes, tmp_path, uninterrupted):
    train_net(
        "configs/shapes/unet.yaml", tmp_path, tiny_shapes, *_RESUMABLE, datasets=_SEMANTIC, size=64
    )
    runs = [
        [
            (m["iteration"], m["total_loss"], m["loss_sem_seg"])
            for m in metrics(output_dir)
            if "total_loss" in m
        ]
        for output_dir in (uninterrupted, tmp_path)
    ]
    assert runs[0] and runs[0] == runs[1]


def test_resumed_loader_continues_the_data_stream(tiny_val):
    """The batches a run resumed at iteration 3 draws are those an uninterrupted run
    draws from its 4th on."""
    cfg = setup_config(
        os.path.join(REPO, "configs/shapes/unet.yaml"),
        [
            "DATASETS.TRAIN",
            f"('{tiny_val}_sem_seg',)",
            "SOLVER.IMS_PER_BATCH",
            "2",
            "DATALOADER.NUM_WORKERS",
            "0",
            "INPUT.MIN_SIZE_TRAIN",
            "(32,)",
            "INPUT.MAX_SIZE_TRAIN",
            "32",
        ],
    )

    def image_ids(loader, count):
        return [[d["image_id"] for d in batch] for batch in itertools.islice(loader, count)]

    whole = image_ids(Trainer.build_train_loader(cfg), 8)
    assert image_ids(Trainer.build_train_loader(cfg, start_iter=3), 5) == whole[3:]
    assert image_ids(Trainer.build_train_loader(cfg), 8) == whole  # the seed fixes the stream


def _tiny_unet_trainer(tiny_val, output_dir):
    return Trainer(
        setup_config(
            os.path.join(REPO, "configs/shapes/unet.yaml"),
            [
                "DATASETS.TRAIN",
                f"('{tiny_val}_sem_seg',)",
                "SOLVER.IMS_PER_BATCH",
                "2",
                "DATALOADER.NUM_WORKERS",
                "0",
                "MODEL.UNET.DEPTH",
                "2",
                "MODEL.UNET.BASE_CHANNELS",
                "4",
                "SOLVER.MAX_ITER",
                "3",
                "TEST.EVAL_PERIOD",
                "0",
                "SOLVER.AMP.ENABLED",
                "False",
                "OUTPUT_DIR",
                str(output_dir),
            ],
        )
    )


def test_resuming_swaps_in_a_loader_that_continues_past_the_checkpoints_iteration(
    tiny_val, tmp_path, monkeypatch
):
    first = _tiny_unet_trainer(tiny_val, tmp_path)
    first.iter = 4
    first.checkpointer.save("model_0000004")
    resumed = _tiny_unet_trainer(tiny_val, tmp_path)
    builds = []
    monkeypatch.setattr(
        Trainer,
        "build_train_loader",
        classmethod(lambda cls, cfg, start_iter=0: builds.append(start_iter) or ["continued"]),
    )
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 5 and builds == [5]
    assert resumed._trainer.data_loader == ["continued"]


def test_a_diverged_training_ends_with_what_to_change_and_which_checkpoint_is_intact(
    tiny_val, tmp_path
):
    from seg_d2.errors import TrainingDivergedError

    def diverge():
        raise FloatingPointError("Loss became infinite or NaN at iteration=0!")

    trainer = _tiny_unet_trainer(tiny_val, tmp_path)
    trainer._trainer.run_step = diverge
    with pytest.raises(
        TrainingDivergedError,
        match=r"iteration=0!\nNo checkpoint had been written yet\. Training "
        r"diverged: lower SOLVER.BASE_LR, lengthen SOLVER.WARMUP_ITERS",
    ):
        trainer.train()
    trainer.checkpointer.save("model_0000000")
    trainer = _tiny_unet_trainer(tiny_val, tmp_path)  # detectron2's hooks serve one train() each
    trainer._trainer.run_step = diverge
    with pytest.raises(
        TrainingDivergedError,
        match=f"The last good checkpoint, {tmp_path}/model_0000000.pth, is intact",
    ):
        trainer.train()
