"""Weights files from elsewhere cannot run code, and checkpoint faults end with one
message that names the file and what is left to resume from."""

import errno
import os
import pickle
import subprocess

from seg_d2.engine.checkpoint import (
    CheckpointError,
    SafeCheckpointer,
    load_weights,
    remove_partial_checkpoints,
)

import numpy as np
import pytest
import torch
from helpers import REPO, train_net_command
from torch import nn


class _TouchesAFile:
    """What an attacker's pickle holds: unpickling it opens (creates) a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _malicious_pickle(folder, marker):
    path = folder / "weights.pkl"
    path.write_bytes(pickle.dumps({"model": _TouchesAFile(marker), "__author__": "x"}))
    return path


def test_a_pickle_that_would_run_code_is_refused_by_name(tmp_path):
    marker = tmp_path / "touched"
    path = _malicious_pickle(tmp_path, marker)
    with pytest.raises(CheckpointError, match=r"weights\.pkl.*io\.open"):
        load_weights(nn.Linear(2, 2), str(path))
    assert not marker.exists()


def test_resume_never_unpickles_code_named_by_last_checkpoint(tmp_path):
    marker = tmp_path / "touched"
    _malicious_pickle(tmp_path, marker)
    (tmp_path / "last_checkpoint").write_text("weights.pkl")
    with pytest.raises(CheckpointError, match="io.open"):
        SafeCheckpointer(nn.Linear(2, 2), str(tmp_path)).resume_or_load("", resume=True)
    assert not marker.exists()


def test_a_pth_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "touched"
    path = tmp_path / "weights.pth"
    torch.save({"model": _TouchesAFile(marker)}, path)
    with pytest.raises(CheckpointError, match=r"cannot read weights file .*weights\.pth"):
        load_weights(nn.Linear(2, 2), str(path))
    assert not marker.exists()


def test_model_zoo_pickles_still_load(tmp_path):
    """detectron2's model-zoo layout (``model`` + ``__author__``, NumPy arrays, written by
    Python 2 era pickles at protocol 2) and Detectron1's ``blobs`` layout."""
    weight = np.arange(6, dtype=np.float32).reshape(3, 2)
    bias = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    zoo = tmp_path / "zoo.pkl"
    zoo.write_bytes(
        pickle.dumps({"model": {"weight": weight, "bias": bias}, "__author__": "zoo"}, protocol=2)
    )
    model = load_weights(nn.Linear(2, 3), str(zoo))
    assert torch.equal(model.weight, torch.from_numpy(weight))
    assert torch.equal(model.bias, torch.from_numpy(bias))

    blobs = tmp_path / "detectron1.pkl"
    blobs.write_bytes(
        pickle.dumps({"blobs": {"weight": weight * 2, "bias": bias, "bias_momentum": bias}})
    )
    model = load_weights(nn.Linear(2, 3), str(blobs))
    assert torch.equal(model.weight, torch.from_numpy(weight * 2))


def test_safetensors_files_load(tmp_path):
    from safetensors.torch import save_file

    source = nn.Linear(2, 3)
    save_file(source.state_dict(), str(tmp_path / "weights.safetensors"))
    model = load_weights(nn.Linear(2, 3), str(tmp_path / "weights.safetensors"))
    assert torch.equal(model.weight, source.weight)


def test_a_truncated_checkpoint_names_the_one_to_resume_from(tmp_path):
    checkpointer = SafeCheckpointer(nn.Linear(2, 2), str(tmp_path))
    checkpointer.save("model_0000009")
    checkpointer.save("model_0000019")
    last = tmp_path / "model_0000019.pth"
    last.write_bytes(last.read_bytes()[:100])
    with pytest.raises(CheckpointError) as error:
        SafeCheckpointer(nn.Linear(2, 2), str(tmp_path)).resume_or_load("", resume=True)
    message = str(error.value)
    assert "model_0000019.pth" in message
    assert "newest other checkpoint there is model_0000009.pth" in message
    assert "--resume" in message


def test_a_missing_last_checkpoint_is_named_with_its_pointer(tmp_path):
    SafeCheckpointer(nn.Linear(2, 2), str(tmp_path)).save("model_0000009")
    (tmp_path / "last_checkpoint").write_text("model_0000019.pth")
    with pytest.raises(CheckpointError) as error:
        SafeCheckpointer(nn.Linear(2, 2), str(tmp_path)).resume_or_load("", resume=True)
    message = str(error.value)
    assert "model_0000019.pth" in message and "last_checkpoint" in message
    assert "model_0000009.pth" in message


def test_a_full_disk_leaves_no_partial_file_and_the_previous_checkpoint_current(
    tmp_path, monkeypatch
):
    checkpointer = SafeCheckpointer(nn.Linear(2, 2), str(tmp_path))
    checkpointer.save("model_0000009")

    def disk_fills_up(data, f, *args, **kwargs):
        f.write(b"the first megabytes")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_fills_up)
    with pytest.raises(CheckpointError) as error:
        checkpointer.save("model_0000019")
    assert "No space left on device" in str(error.value)
    assert "model_0000009.pth" in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_checkpoint", "model_0000009.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000009.pth"


def test_partial_checkpoints_have_names_of_their_own_and_are_cleared(tmp_path):
    (tmp_path / "model_0000019.partial-123.pth").write_bytes(b"half")
    (tmp_path / "model_0000009.pth").write_bytes(b"whole")
    remove_partial_checkpoints(str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["model_0000009.pth"]


def test_eval_only_with_a_malicious_pickle_stops_before_running_it(tiny_shapes, tmp_path):
    marker = tmp_path / "touched"
    weights = _malicious_pickle(tmp_path, marker)
    command = train_net_command(
        "configs/shapes/unet.yaml",
        tmp_path / "run",
        tiny_shapes,
        "--eval-only",
        "MODEL.WEIGHTS",
        str(weights),
        datasets=("tiny_train_sem_seg", "tiny_val_sem_seg"),
        size=64,
    )
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 1
    assert f"error: cannot read weights file {str(weights)!r}" in run.stderr
    assert "Traceback" not in run.stderr
    assert not marker.exists()


# tools/train_net.py with a disk that fills up at the first checkpoint.
_DISK_FILLS_UP = """
import errno, os, runpy, sys
import torch
def disk_fills_up(data, f, *args, **kwargs):
    f.write(b"x" * 1000)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
torch.save = disk_fills_up
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_full_disk_during_training_is_one_message_and_leaves_no_partial_file(
    tiny_shapes, tmp_path
):
    command = train_net_command(
        "configs/shapes/unet.yaml",
        tmp_path,
        tiny_shapes,
        "SOLVER.MAX_ITER",
        "3",
        "SOLVER.CHECKPOINT_PERIOD",
        "2",
        datasets=("tiny_train_sem_seg", "tiny_val_sem_seg"),
        size=64,
    )
    run = subprocess.run(
        [command[0], "-c", _DISK_FILLS_UP, *command[1:]], capture_output=True, text=True, cwd=REPO
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        f"error: cannot write checkpoint {tmp_path / 'model_0000001.pth'} (No space left on "
        "device); no other checkpoint is there to resume from"
    )
    assert "Traceback" not in run.stdout + run.stderr
    assert not list(tmp_path.glob("*.pth")) and not list(tmp_path.glob("*.partial*"))


def test_the_newest_other_checkpoint_is_named_with_how_to_resume_from_it(tmp_path):
    checkpointer = SafeCheckpointer(nn.Linear(2, 2), str(tmp_path))
    for name in ("model_0000009", "model_0000029", "model_0000019"):
        checkpointer.save(name)
    last = tmp_path / "model_0000019.pth"
    last.write_bytes(last.read_bytes()[:100])
    (tmp_path / "last_checkpoint").write_text("model_0000019.pth")
    with pytest.raises(CheckpointError) as error:
        SafeCheckpointer(nn.Linear(2, 2), str(tmp_path)).resume_or_load("", resume=True)
    assert str(error.value).endswith(
        "; the newest other checkpoint there is model_0000029.pth: to resume from it, write "
        f"'model_0000029.pth' into {tmp_path / 'last_checkpoint'} and run with --resume"
    )

    alone = tmp_path / "alone"
    alone.mkdir()
    SafeCheckpointer(nn.Linear(2, 2), str(alone)).save("model_0000009")
    only = alone / "model_0000009.pth"
    only.write_bytes(only.read_bytes()[:100])
    with pytest.raises(CheckpointError) as error:
        SafeCheckpointer(nn.Linear(2, 2), str(alone)).resume_or_load("", resume=True)
    assert str(error.value).endswith("; no other checkpoint is there to resume from")


def test_an_unreadable_file_from_elsewhere_is_named_without_the_runs_checkpoints(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    SafeCheckpointer(nn.Linear(2, 2), str(run)).save("model_0000009")
    elsewhere = tmp_path / "downloaded.pth"
    elsewhere.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as error:
        SafeCheckpointer(nn.Linear(2, 2), str(run)).load(str(elsewhere))
    message = str(error.value)
    assert message.startswith(f"cannot read weights file '{elsewhere}' (")
    assert "checkpoint there" not in message and message.endswith(")")


def test_a_zoo_pickles_author_is_logged_and_detectron1_momentum_blobs_are_left_out(
    tmp_path, caplog
):
    weight, bias = np.ones((3, 2), np.float32), np.zeros(3, np.float32)
    zoo = tmp_path / "zoo.pkl"
    zoo.write_bytes(pickle.dumps({"model": {"weight": weight, "bias": bias}, "__author__": "Z"}))
    with caplog.at_level("INFO"):
        load_weights(nn.Linear(2, 3), str(zoo))
    assert "Reading a file from 'Z'" in caplog.text

    blobs = tmp_path / "detectron1.pkl"
    blobs.write_bytes(
        pickle.dumps({"blobs": {"weight": weight, "bias": bias, "weight_momentum": weight}})
    )
    caplog.clear()
    with caplog.at_level("INFO"):
        load_weights(nn.Linear(2, 3), str(blobs))
    (table,) = [r.getMessage() for r in caplog.records if "Loading weights" in r.getMessage()]
    unused = next(line for line in table.splitlines() if "in the file, unused" in line)
    assert unused.split("|")[2].strip() == "0"


def test_detectron1_blob_names_are_converted_as_caffe2_names(tmp_path):
    from collections import OrderedDict

    weight, bias = np.full((3, 2), 2.0, np.float32), np.arange(3, dtype=np.float32)
    blobs = tmp_path / "detectron1.pkl"
    blobs.write_bytes(pickle.dumps({"blobs": {"fc_w": weight, "fc_b": bias}}))
    model = load_weights(nn.Sequential(OrderedDict(fc=nn.Linear(2, 3))), str(blobs))
    assert torch.equal(model.fc.weight, torch.from_numpy(weight))
    assert torch.equal(model.fc.bias, torch.from_numpy(bias))
