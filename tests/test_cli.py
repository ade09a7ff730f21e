"""How a command ends when one of several training processes fails: seg_d2's errors
with their message, a process that died with what happened to it, anything else with
its traceback."""

import importlib
import sys

import seg_d2  # noqa: F401
from seg_d2.cli import COMMANDS, run_command
from seg_d2.errors import DatasetError

import pytest
from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

WORKER_TRACEBACK = """
-- Process 1 terminated with the following error:
Traceback (most recent call last):
  File "spawn.py", line 90, in _wrap
    fn(i, *args)
{error}
"""


def _exit_message(error):
    def main():
        raise error

    with pytest.raises(SystemExit) as ended:
        run_command(main)
    return ended.value.code


def test_a_seg_d2_error_of_a_process_ends_with_its_whole_message():
    error = "bad.json: 2 problems\n  annotation id 1: bbox outside\n  annotation id 2: no area"
    traceback = WORKER_TRACEBACK.format(error=f"seg_d2.errors.DatasetError: {error}")
    assert _exit_message(ProcessRaisedException(traceback, 1, 100)) == f"error: {error}"


def test_another_error_of_a_process_keeps_its_traceback(monkeypatch):
    traceback = WORKER_TRACEBACK.format(error="ValueError: a bug in the code")
    with pytest.raises(ProcessRaisedException, match="a bug in the code"):
        run_command(lambda: (_ for _ in ()).throw(ProcessRaisedException(traceback, 1, 100)))
    monkeypatch.setenv("SEG_D2_TRACEBACK", "1")
    seg_d2_error = WORKER_TRACEBACK.format(error="seg_d2.errors.ConfigError: bad key")
    with pytest.raises(ProcessRaisedException, match="bad key"):
        run_command(lambda: (_ for _ in ()).throw(ProcessRaisedException(seg_d2_error, 1, 100)))


@pytest.mark.parametrize(
    "exit_code, signal_name, how",
    [(7, None, "exit code 7"), (-9, "SIGKILL", "signal SIGKILL")],
)
def test_a_process_that_died_ends_the_command_with_what_happened(exit_code, signal_name, how):
    died = ProcessExitedException("process 1 terminated", 1, 100, exit_code, signal_name)
    assert _exit_message(died) == (
        f"error: training process 1 ended with {how}; the other processes were stopped. "
        "Continue from the last checkpoint with --resume."
    )


def test_the_command_gets_its_arguments_and_gives_back_its_result():
    assert run_command(lambda *args, **kwargs: (args, kwargs), 1, 2, dist_url="auto") == (
        (1, 2),
        {"dist_url": "auto"},
    )


def test_a_seg_d2_error_ends_the_command_with_its_message_unless_a_traceback_is_asked_for(
    monkeypatch,
):
    error = DatasetError("train.json: annotation id 3: no area")
    assert _exit_message(error) == "error: train.json: annotation id 3: no area"
    monkeypatch.setenv("SEG_D2_TRACEBACK", "1")
    with pytest.raises(DatasetError, match="no area"):
        run_command(lambda: (_ for _ in ()).throw(error))


def test_a_seg_d2_error_of_a_loader_worker_ends_with_the_errors_own_line():
    """torch's DataLoader re-raises a worker's error with its traceback in the message."""
    error = DatasetError(
        "Caught DatasetError in DataLoader worker process 0.\n"
        "Original Traceback (most recent call last):\n"
        '  File "mapper.py", line 9, in __call__\n'
        "seg_d2.errors.DatasetError: image a.png: cannot read it: truncated: 2 bytes\n"
    )
    assert _exit_message(error) == "error: image a.png: cannot read it: truncated: 2 bytes"


def test_a_file_name_that_is_not_utf8_prints_escaped(capfd):
    run_command(lambda: print("bad name: caf\udce9.png"))
    assert capfd.readouterr().out == "bad name: caf\\udce9.png\n"


def test_an_error_a_data_loader_worker_raised_is_its_own_last_line():
    from seg_d2.cli import _message

    worker = (
        "Caught DatasetError in DataLoader worker process 0.\n"
        "Original Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n'
        "seg_d2.errors.DatasetError: cannot read image 'a.png': truncated\n\n"
    )
    assert _message(Exception(worker)) == "cannot read image 'a.png': truncated"
    no_colon = worker.rsplit("seg_d2", 1)[0] + "MemoryError\n"
    assert _message(Exception(no_colon)) == "MemoryError"
    assert _message(Exception("a.json: annotation 3: no area")) == "a.json: annotation 3: no area"


@pytest.mark.parametrize("module", sorted({module for module, _ in COMMANDS.values()}))
def test_each_commands_run_parses_the_arguments_it_is_given(module, capsys, monkeypatch):
    """``run(argv)`` as an API, not only behind ``seg-d2``: it reads ``argv``, not
    sys.argv (here pytest's own, which no command accepts)."""
    monkeypatch.setattr(sys, "argv", ["pytest", "--no-such-option"])
    with pytest.raises(SystemExit) as exit:
        importlib.import_module(module).run(["--help"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")
