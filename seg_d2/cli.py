"""What seg_d2's commands share: a bad input ends them with a message that names it,
not with a traceback (unless ``SEG_D2_TRACEBACK=1``)."""

import os
import sys

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


def run_command(main, *args, **kwargs):
    """``main(*args, **kwargs)``; a SegD2Error (bad dataset or config, unreadable image, diverged
    training) exits with status 1 and its message. File names that are not valid UTF-8 print
    escaped, not as a crash."""
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="backslashreplace")
    try:
        return main(*args, **kwargs)
    except SegD2Error as error:
        if os.environ.get(TRACEBACK_VARIABLE) == "1":
            raise
        sys.exit(f"error: {_message(error)}")
