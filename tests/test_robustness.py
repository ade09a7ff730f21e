"""Faults in training that must lose nothing and explain themselves: a crash while a
checkpoint is written, a diverging loss, and (the other side) runs that must repeat."""
import hashlib

import pytest
import torch
from conftest import metrics, train_net
from torch import nn

from seg_d2.engine.checkpoint import AtomicCheckpointer


def test_a_crash_while_saving_leaves_the_previous_checkpoint_current(tmp_path, monkeypatch):
    checkpointer = AtomicCheckpointer(nn.Linear(2, 2), str(tmp_path))
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
    assert AtomicCheckpointer(nn.Linear(2, 2), str(tmp_path)).resume_or_load("", resume=True) == {}
    checkpointer.save("model_0000019")  # the next save overwrites the half-written leftover
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000019.pth"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_checkpoint", "model_0000009.pth", "model_0000019.pth"]


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_divergence_names_the_iteration_and_keeps_the_last_good_checkpoint(tiny_shapes, tmp_path):
    semantic = ("tiny_train_sem_seg", "tiny_val_sem_seg")
    train_net("configs/shapes/unet.yaml", tmp_path, tiny_shapes, "SOLVER.MAX_ITER", "4", "TEST.EVAL_PERIOD", "0",
              "MODEL.UNET.DEPTH", "2", datasets=semantic)
    good = tmp_path / "model_final.pth"
    fingerprint = _sha256(good)
    with pytest.raises(AssertionError) as failure:
        train_net("configs/shapes/unet.yaml", tmp_path, tiny_shapes, "SOLVER.MAX_ITER", "30", "TEST.EVAL_PERIOD",
                  "0", "MODEL.UNET.DEPTH", "2", "MODEL.WEIGHTS", str(good), "SOLVER.OPTIMIZER", "SGD",
                  "SOLVER.BASE_LR", "1e6", "SOLVER.WARMUP_ITERS", "0", "SOLVER.CHECKPOINT_PERIOD", "1000",
                  datasets=semantic)
    message = str(failure.value)
    assert "Loss became infinite or NaN at iteration=" in message
    assert f"The last good checkpoint, {good}, is intact" in message
    assert "lower SOLVER.BASE_LR" in message
    assert _sha256(good) == fingerprint


@pytest.mark.slow
def test_same_seed_same_losses_on_cpu(tiny_shapes, tmp_path):
    runs = []
    for name in ("first", "second"):
        train_net("configs/shapes/unet.yaml", tmp_path / name, tiny_shapes, "SOLVER.MAX_ITER", "20",
                  "TEST.EVAL_PERIOD", "0", "MODEL.UNET.DEPTH", "2", "SEED", "7",
                  datasets=("tiny_train_sem_seg", "tiny_val_sem_seg"))
        runs.append([(m["iteration"], m["total_loss"], m["loss_sem_seg"]) for m in metrics(tmp_path / name)
                     if "total_loss" in m])
    assert runs[0] and runs[0] == runs[1]
