"""Files that are whole or absent: written beside their final name, then renamed into
place (``os.replace`` is atomic on one file system), so a crash never leaves a
half-written file under the name readers look for."""
import os

__all__ = ["write_text_atomically"]


def write_text_atomically(path, text):
    partial = f"{path}.partial-{os.getpid()}"  # per process: concurrent writers never share one
    with open(partial, "w") as f:
        f.write(text)
    os.replace(partial, path)
