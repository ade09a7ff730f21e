"""One run per output folder: a second run into a held folder stops at once naming the
first, a dead run's folder is taken over (its partial checkpoints cleared), and a folder
that cannot be written is one message."""

import errno
import json
import os
import shutil
import subprocess
import sys

from seg_d2.engine.run_lock import (
    LOCK_FILE,
    OutputFolderInUseError,
    hold_output_folder,
    release_output_folder,
)
from seg_d2.errors import ConfigError

import pytest
from helpers import MASK_RCNN, REPO, train_net_command

_HOLD_AND_WAIT = """
import sys, time
from seg_d2.engine.run_lock import hold_output_folder
hold_output_folder(sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def held_by_another_process(tmp_path):
    folder = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AND_WAIT, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "held\n"
    yield folder, holder
    holder.kill()
    holder.wait()


def test_a_second_run_into_a_held_folder_stops_naming_the_first(held_by_another_process):
    folder, holder = held_by_another_process
    with pytest.raises(
        OutputFolderInUseError, match=rf"{folder} is in use by another run \(pid {holder.pid} on"
    ):
        hold_output_folder(str(folder))


def test_train_net_refuses_a_held_folder_before_writing_into_it(
    held_by_another_process, tiny_shapes
):
    folder, holder = held_by_another_process
    run = subprocess.run(
        train_net_command(MASK_RCNN, folder, tiny_shapes, "SOLVER.MAX_ITER", "1"),
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 1
    assert f"error: OUTPUT_DIR {folder} is in use by another run (pid {holder.pid} on" in run.stderr
    assert sorted(os.listdir(folder)) == [LOCK_FILE]  # no config, log or metrics written


def test_a_dead_runs_folder_is_taken_over_and_its_partial_checkpoints_cleared(
    held_by_another_process, caplog
):
    folder, holder = held_by_another_process
    (folder / "model_0000019.partial-99.pth").write_bytes(b"half")
    holder.kill()
    holder.wait()
    hold_output_folder(str(folder))
    try:
        assert (
            f"taking over from a run that ended without releasing it (pid {holder.pid}"
            in caplog.text
        )
        assert json.loads((folder / LOCK_FILE).read_text())["pid"] == os.getpid()
        assert not (folder / "model_0000019.partial-99.pth").exists()
    finally:
        release_output_folder(str(folder))
    assert not (folder / LOCK_FILE).exists()
    hold_output_folder(str(folder))  # free again, and taken without a note
    release_output_folder(str(folder))


def test_holding_a_folder_twice_in_one_process_is_one_hold(tmp_path):
    hold_output_folder(str(tmp_path))
    hold_output_folder(str(tmp_path))
    release_output_folder(str(tmp_path))
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_folder_that_cannot_be_written_is_one_message(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "makedirs", read_only)
    with pytest.raises(
        ConfigError, match=r"OUTPUT_DIR .*run cannot be written \(Read-only file system\)"
    ):
        hold_output_folder(str(tmp_path / "run"))


def test_the_holder_is_described_by_its_lock_file_or_said_to_have_left_none():
    from seg_d2.engine.run_lock import _holder

    description = {"pid": 7, "host": "gpu1", "started": "2026-12-06 10:00:00"}
    command = ["tools/train_net.py", "--config-file", "a.yaml"]
    assert _holder(json.dumps({**description, "command": command})) == (
        "pid 7 on gpu1, started 2026-12-06 10:00:00: tools/train_net.py --config-file a.yaml"
    )
    for unreadable in ("", "{not json", json.dumps(description), "[1]"):
        assert _holder(unreadable) == "a process that left no description"


def test_the_lock_file_is_readable_by_all_writable_by_its_owner(tmp_path):
    hold_output_folder(str(tmp_path))
    try:
        assert (tmp_path / LOCK_FILE).stat().st_mode & 0o777 == 0o644 & ~_umask()
    finally:
        release_output_folder(str(tmp_path))
    release_output_folder(str(tmp_path))  # a folder no longer held: nothing to do


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_lock_file_of_garbage_left_behind_is_taken_over_with_a_note(tmp_path, caplog):
    (tmp_path / LOCK_FILE).write_bytes(b"\xff\xfe not a description")
    hold_output_folder(str(tmp_path))
    try:
        assert "taking over from a run that ended without releasing it" in caplog.text
        assert "(a process that left no description)" in caplog.text
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    finally:
        release_output_folder(str(tmp_path))


def test_a_folder_deleted_under_its_run_is_released_without_an_error(tmp_path):
    folder = tmp_path / "run"
    hold_output_folder(str(folder))
    shutil.rmtree(folder)
    release_output_folder(str(folder))  # at exit, too: no traceback
    folder.mkdir()
    hold_output_folder(str(folder))  # held anew: the first hold was given up
    assert (folder / LOCK_FILE).is_file()
    release_output_folder(str(folder))
