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


def _read_stamp(folder):
    try:
        with open(os.path.join(folder, STAMP_FILE)) as f:
            return f.read()
    except OSError:
        return None


def build_folder_once(folder, stamp, build):
    """Make ``folder`` hold what ``build(path)`` writes into an empty ``path``, unless it
    already carries ``stamp``. The first process to get here builds; the others wait
    and then find the stamp. Returns True when this call built the folder."""
    if _read_stamp(folder) == stamp:
        return False
    os.makedirs(os.path.dirname(os.path.abspath(folder)), exist_ok=True)
    with FileLock(f"{folder}.lock"):
        if _read_stamp(folder) == stamp:  # built by another process while we waited
            return False
        building = f"{folder}.building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        os.makedirs(building)
        try:
            build(building)
            write_text_atomically(os.path.join(building, STAMP_FILE), stamp)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        stale = f"{folder}.stale-{os.getpid()}"
        if os.path.exists(folder):
            os.rename(folder, stale)
        os.rename(building, folder)
        shutil.rmtree(stale, ignore_errors=True)
    return True
