"""One run per output folder: two trainings (or evaluations) writing into one
``OUTPUT_DIR`` would mix their ``metrics.json`` rows, logs and checkpoints.

A run holds an exclusive ``flock`` on ``OUTPUT_DIR/seg_d2-run.lock`` for as long as its
process lives; the file names the holder (pid, host, command). A second run into the
folder stops at once with one message naming the first. The kernel releases the lock of
a process that dies, however it dies, so a later run takes the folder over, says so, and
clears the partial checkpoints the dead one left.
"""

import atexit
import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time

from ..errors import ConfigError, SegD2Error
from .checkpoint import remove_partial_checkpoints

__all__ = ["LOCK_FILE", "OutputFolderInUseError", "hold_output_folder", "release_output_folder"]

LOCK_FILE = "seg_d2-run.lock"

# Folder (absolute) -> the open lock file this process holds it with.
_HELD = {}


class OutputFolderInUseError(SegD2Error):
    """Another live run holds the output folder."""


def _holder(text):
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}: " + " ".join(
            holder["command"]
        )
    except (ValueError, KeyError, TypeError):
        return "a process that left no description"


def _open_locked(path):
    """The lock file at ``path``, opened and locked; None when another process holds it.
    A file unlinked by its releasing holder between our open and our lock is opened anew."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def hold_output_folder(folder):
    """Make ``folder`` (created if needed) this process's alone until it exits, or raise
    naming the run that holds it; a folder that cannot be written is a ConfigError."""
    folder = os.path.abspath(folder)
    if folder in _HELD:
        return
    path = os.path.join(folder, LOCK_FILE)
    try:
        os.makedirs(folder, exist_ok=True)
        fd = _open_locked(path)
    except OSError as error:
        raise ConfigError(
            f"OUTPUT_DIR {folder} cannot be written ({error.strerror or error}): "
            "choose another folder with OUTPUT_DIR /path/to/folder"
        ) from None
    if fd is None:
        with open(path) as f:
            holder = _holder(f.read())
        raise OutputFolderInUseError(
            f"OUTPUT_DIR {folder} is in use by another run ({holder}); wait for it to end, "
            "or choose another folder with OUTPUT_DIR /path/to/folder"
        )
    previous = os.read(fd, 1 << 16).decode("utf-8", "replace")
    if previous.strip():
        logging.getLogger(__name__).warning(
            "OUTPUT_DIR %s: taking over from a run that ended without releasing it (%s)",
            folder,
            _holder(previous),
        )
    description = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": sys.argv,
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(description).encode(), 0)
    _HELD[folder] = fd
    remove_partial_checkpoints(folder)


def release_output_folder(folder):
    """Let other runs use ``folder`` again (done at exit for every folder still held)."""
    fd = _HELD.pop(os.path.abspath(folder), None)
    if fd is None:
        return
    with contextlib.suppress(FileNotFoundError):  # the folder was deleted under the run
        os.unlink(os.path.join(os.path.abspath(folder), LOCK_FILE))
    os.close(fd)


@atexit.register
def _release_all():
    for folder in list(_HELD):
        release_output_folder(folder)
