"""Checkpoints that are whole or absent: a run killed while saving must leave the
previous checkpoint, and ``last_checkpoint`` naming it, usable by ``--resume``."""

import os

from detectron2.checkpoint import DetectionCheckpointer

from ..atomic import write_text_atomically

__all__ = ["AtomicCheckpointer"]

_PARTIAL = ".partial"


class AtomicCheckpointer(DetectionCheckpointer):
    """detectron2's checkpointer, but each file is written beside its final name and
    renamed into place (``os.replace`` is atomic on one file system), and
    ``last_checkpoint`` is re-pointed only after that."""

    def save(self, name, **kwargs):
        if not self.save_dir or not self.save_to_disk:
            return
        super().save(name + _PARTIAL, **kwargs)
        os.replace(
            os.path.join(self.save_dir, f"{name}{_PARTIAL}.pth"),
            os.path.join(self.save_dir, f"{name}.pth"),
        )
        self.tag_last_checkpoint(f"{name}.pth")

    def tag_last_checkpoint(self, last_filename_basename):
        if last_filename_basename.endswith(f"{_PARTIAL}.pth"):
            return  # not yet: it is tagged once renamed
        write_text_atomically(
            os.path.join(self.save_dir, "last_checkpoint"), last_filename_basename
        )
