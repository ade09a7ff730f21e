"""What seg_d2's commands share: a bad input ends them with a message that names it,
not with a traceback (unless ``SEG_D2_TRACEBACK=1``)."""

import os
import re
import sys

from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

from .errors import TRACEBACK_VARIABLE, SegD2Error

__all__ = ["run_command"]

# How torch's DataLoader re-raises an error from a worker process: the worker's
# traceback inside the message, the error's own line last.
_WORKER_TRACEBACK = "Original Traceback (most recent call last):"


def _message(error):
    text = str(error)
    if _WORKER_TRACEBACK in text:
        text = text.rstrip().splitlines()[-1].split(": ", 1)[-1]
    return text


# How torch.multiprocessing re-raises an error of a worker process: its traceback as
# text, ending with the error's type and message.
_SEG_D2_ERROR_IN_TRACEBACK = re.compile(r"^seg_d2\.[\w.]*Error: (.*)\Z", re.MULTILINE | re.DOTALL)


def _exit_for_process_failure(error):
    """A training process that died (killed, out of memory) or raised one of seg_d2's
    errors ends the command with a message; the launcher has stopped the other processes
    of this machine (those of other machines stop at their next exchange, or after the
    process group's timeout)."""
    if isinstance(error, ProcessExitedException):
        how = f"signal {error.signal_name}" if error.signal_name else f"exit code {error.exit_code}"
        sys.exit(
            f"error: training process {error.error_index} ended with {how}; the other processes "
            "were stopped. Continue from the last checkpoint with --resume."
        )
    found = _SEG_D2_ERROR_IN_TRACEBACK.search(str(error).rstrip())
    if found is None or os.environ.get(TRACEBACK_VARIABLE) == "1":
        raise error
    sys.exit(f"error: {found.group(1)}")


def run_command(main, *args, **kwargs):
    """``main(*args, **kwargs)``; a SegD2Error (bad dataset or config, unreadable image, diverged
    training) exits with status 1 and its message, also from one of several training
    processes, and so does a training process that died. File names that are not valid UTF-8 print
    escaped, not as a crash."""
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="backslashreplace")
    try:
        return main(*args, **kwargs)
    except SegD2Error as error:
        if os.environ.get(TRACEBACK_VARIABLE) == "1":
            raise
        sys.exit(f"error: {_message(error)}")
    except (ProcessExitedException, ProcessRaisedException) as error:
        _exit_for_process_failure(error)
