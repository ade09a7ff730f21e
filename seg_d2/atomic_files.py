"""Files and folders that are whole or absent: written beside their final name, then
renamed into place (``os.replace`` is atomic on one file system), so a crash never
leaves a half-written file or folder under the name readers look for. Folders are
also built by one process at a time, the others waiting for it (a file lock), so
several processes starting at once build them once."""

import os
import shutil

from filelock import FileLock

__all__ = ["build_folder_once", "write_text_atomically"]

# Text inside a built folder that says from what it was built; a folder whose
# stamp differs from the wanted one is rebuilt.
STAMP_FILE = "SOURCE"


def write_text_atomically(path, text):
    partial = f"{path}.partial-{os.getpid()}"  # per process: concurrent writers never share one
    with open(partial, "w") as f:
        f.write(text)
    os.replace(partial, path)


def _remove_if_present(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _read_stamp_file(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _read_stamp(folder):
    return _read_stamp_file(os.path.join(folder, STAMP_FILE))


def build_folder_once(folder, stamp, build, resumable=False):
    """Make ``folder`` hold what ``build(path)`` writes into ``path``, unless it already
    carries ``stamp``. The first process to get here builds; the others wait and then find
    the stamp. Returns True when this call built the folder.

    ``resumable``: ``path`` is the same for every attempt at ``stamp`` and is kept when a
    build is interrupted (Ctrl-C, or a process killed before it could clean up), so that
    ``build`` can go on from what the earlier attempt wrote; a build that fails with an
    error still leaves nothing behind, and one of another stamp is discarded."""
    if _read_stamp(folder) == stamp:
        return False
    os.makedirs(os.path.dirname(os.path.abspath(folder)), exist_ok=True)
    with FileLock(f"{folder}.lock"):
        if _read_stamp(folder) == stamp:  # built by another process while we waited
            return False
        building = f"{folder}.building" if resumable else f"{folder}.building-{os.getpid()}"
        # the stamp of a resumable build, beside it: the folder build() gets holds only its own
        building_stamp = f"{building}.{STAMP_FILE}"
        if not (resumable and _read_stamp_file(building_stamp) == stamp):
            shutil.rmtree(building, ignore_errors=True)
            os.makedirs(building)
            if resumable:
                write_text_atomically(building_stamp, stamp)
        try:
            build(building)
            write_text_atomically(os.path.join(building, STAMP_FILE), stamp)
        except KeyboardInterrupt:
            if not resumable:
                shutil.rmtree(building, ignore_errors=True)
            raise
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            _remove_if_present(building_stamp)
            raise
        _remove_if_present(building_stamp)
        stale = f"{folder}.stale-{os.getpid()}"
        if os.path.exists(folder):
            os.rename(folder, stale)
        os.rename(building, folder)
        shutil.rmtree(stale, ignore_errors=True)
    return True
