"""Checkpoints that are whole or absent, and weights files that cannot run code.

Writing: a run killed, or out of disk space, while saving must leave the previous
checkpoint, and ``last_checkpoint`` naming it, usable by ``--resume``. Each file is
written under a name of its own (``<name>.partial-<pid>.pth``: two writers never share
one), renamed into place when whole, and removed when writing fails.

Reading: a weights file may come from anywhere, so none is read in a way that runs
code. ``.pth`` files load with ``torch.load(weights_only=True)``; detectron2 / Detectron
model-zoo ``.pkl`` files with an unpickler that admits only what such files hold (dicts,
lists, numbers, strings, NumPy arrays and dtypes) and refuses anything else by name;
``.safetensors`` files with safetensors. A file that cannot be read ends with one message
naming it and, in a run's folder, the checkpoints still there to resume from. Weights of
other libraries (torchvision, timm, smp) are recognised and renamed on the way
(``weight_formats``); every load says in a short table what it loaded, re-initialised
and left unused, and a file that loads almost nothing of the model is an error.
"""

import glob
import os
import pickle
import re
import urllib.parse

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.utils.file_io import PathManager
from tabulate import tabulate

from ..atomic_files import write_text_atomically
from ..errors import SegD2Error
from .model_ema import CHECKPOINT_KEY as EMA_CHECKPOINT_KEY
from .model_ema import averaged_weights
from .weight_formats import convert_foreign_weights

__all__ = [
    "CheckpointError",
    "SafeCheckpointer",
    "read_weights_file",
    "load_weights",
    "remove_partial_checkpoints",
    "save_safetensors",
]

_PARTIAL = ".partial-"
_LAST_CHECKPOINT = "last_checkpoint"
# A file that loads fewer than this share of the model's tensors is the wrong file (or
# the wrong config for it), not a start from pretrained weights.
ALMOST_NOTHING = 0.1
# Buffers that are not weights: the input normalisation, which the config sets, and
# BatchNorm's batch counter (detectron2 and fvcore leave both out of "missing" too).
_NOT_WEIGHTS = re.compile(r"^pixel_(mean|std)$|num_batches_tracked$")
_NAMES_SHOWN = 3

# (module, name) pairs a model-zoo pickle may name: NumPy's array reconstruction (its
# module moved in NumPy 2), and the byte-string codec of Python 2 pickles.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),
}


class CheckpointError(SegD2Error):
    """A weights file that cannot be read or written; the message names it."""


class _WeightsUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"it names {module}.{name}, which a weights file has no need of (a pickle that "
            "names other Python objects can run code, so seg_d2 does not read it)"
        )


def _read_pickle(path):
    with PathManager.open(path, "rb") as f:
        return _WeightsUnpickler(f, encoding="latin1").load()


def _read_safetensors(path):
    from safetensors.torch import load_file

    return {"model": load_file(path, device="cpu")}


def _checkpoints_in(folder):
    """The complete checkpoints of a run's folder, newest (by name) first."""
    names = [
        os.path.basename(path)
        for path in glob.glob(os.path.join(glob.escape(folder), "*.pth"))
        if _PARTIAL not in path
    ]
    return sorted(names, reverse=True)


class SafeCheckpointer(DetectionCheckpointer):
    """detectron2's checkpointer, writing whole-or-absent files and reading none in a way
    that runs code (module docstring)."""

    _loading = None  # the file being loaded, for messages
    # Whether a checkpoint's weights' average goes to its own checkpointable (--resume)
    # rather than into the model (any other load).
    _average_loaded_apart = False

    def save(self, name, **kwargs):
        if not self.save_dir or not self.save_to_disk:
            return
        partial = os.path.join(self.save_dir, f"{name}{_PARTIAL}{os.getpid()}.pth")
        final = os.path.join(self.save_dir, f"{name}.pth")
        try:
            super().save(os.path.splitext(os.path.basename(partial))[0], **kwargs)
            os.replace(partial, final)
        except BaseException as error:
            if os.path.exists(partial):
                os.remove(partial)
            if isinstance(error, OSError):
                raise CheckpointError(
                    f"cannot write checkpoint {final} ({error.strerror or error}); {self._kept()}"
                ) from error
            raise
        self.tag_last_checkpoint(f"{name}.pth")

    def tag_last_checkpoint(self, last_filename_basename):
        if _PARTIAL in last_filename_basename:
            return  # not yet: it is tagged once renamed
        write_text_atomically(os.path.join(self.save_dir, _LAST_CHECKPOINT), last_filename_basename)

    def _kept(self, other_than=None):
        """Which checkpoint of this run's folder is left to resume from, and how."""
        kept = self.save_dir and [
            name for name in _checkpoints_in(self.save_dir) if name != other_than
        ]
        if not kept:
            return "no other checkpoint is there to resume from"
        return (
            f"the newest other checkpoint there is {kept[0]}: to resume from it, write "
            f"'{kept[0]}' into {os.path.join(self.save_dir, _LAST_CHECKPOINT)} and run with "
            "--resume"
        )

    def load(self, path, *args, **kwargs):
        if path and path.startswith("file://"):  # iopath has no handler of its own for it
            path = urllib.parse.unquote(urllib.parse.urlparse(path).path)
        if path and "://" not in path and not os.path.isfile(path):
            tagged = (
                f" (named by {os.path.join(self.save_dir, _LAST_CHECKPOINT)})"
                if self.save_dir and os.path.dirname(path) == self.save_dir
                else ""
            )
            raise CheckpointError(
                f"no such weights file {path!r}{tagged}; {self._kept(os.path.basename(path))}"
            )
        self._loading = path
        wanted = kwargs.get("checkpointables", args[0] if args else None)
        self._average_loaded_apart = EMA_CHECKPOINT_KEY in (
            self.checkpointables if wanted is None else wanted
        )
        return super().load(path, *args, **kwargs)

    def _load_file(self, filename):
        if filename.endswith(".pkl"):
            try:
                return self._load_file_as_pickle(filename)
            except Exception as error:  # noqa: BLE001 (named, as read_weights_file does)
                raise self._unreadable(filename, error) from error
        try:
            loaded = read_weights_file(filename)
        except CheckpointError as error:
            raise self._unreadable(filename, error.__cause__) from error.__cause__
        converted, kind = convert_foreign_weights(
            loaded.get("model", loaded), self.model.state_dict().keys()
        )
        if kind is not None:
            self.logger.info("%s: recognised %s weights", filename, kind)
            return converted
        if filename.endswith(".pyth"):  # pycls, as detectron2 reads it
            model_state = loaded["model_state"]
            return {
                "model": {k: v for k, v in model_state.items() if "num_batches_tracked" not in k},
                "__author__": "pycls",
                "matching_heuristics": True,
            }
        if EMA_CHECKPOINT_KEY in loaded and not self._average_loaded_apart:
            average = loaded.pop(EMA_CHECKPOINT_KEY)
            if not isinstance(average, dict):
                reason = TypeError(f"its {EMA_CHECKPOINT_KEY} is a {type(average).__name__}")
                raise self._unreadable(filename, reason)
            self.logger.info("%s: loading the average of its weights (MODEL_EMA)", filename)
            loaded["model"] = averaged_weights(average)
        return loaded if "model" in loaded else {"model": loaded}

    def _load_model(self, checkpoint):
        """detectron2's loading, then what it did in one table; almost nothing loaded is
        an error naming the file."""
        in_file = len([name for name in checkpoint["model"] if not _NOT_WEIGHTS.search(name)])
        try:
            incompatible = super()._load_model(checkpoint)
        except ValueError as error:  # detectron2's name matching found no unique match
            raise CheckpointError(
                f"{self._loading}: cannot match its weights to the model: {error}"
            ) from error
        model_tensors = len(
            [name for name in self.model.state_dict() if not _NOT_WEIGHTS.search(name)]
        )
        reshaped = [name for name, *_ in incompatible.incorrect_shapes]
        lacking = [name for name in incompatible.missing_keys if name not in reshaped]
        loaded = model_tensors - len(incompatible.missing_keys)
        rows = [
            ("loaded", loaded, ""),
            ("re-initialised: shape differs", len(reshaped), ", ".join(reshaped[:_NAMES_SHOWN])),
            ("in the model, not in the file", len(lacking), ", ".join(lacking[:_NAMES_SHOWN])),
            ("in the file, unused", in_file - loaded - len(reshaped), ""),
        ]
        self.logger.info(
            "Loading weights:\n%s",
            tabulate(rows, headers=["tensors", "", "e.g."], tablefmt="github"),
        )
        if loaded < ALMOST_NOTHING * model_tensors:
            raise CheckpointError(
                f"{self._loading}: loads {loaded} of the model's {model_tensors} tensors: it is "
                "not a file for this model (or this config is not the file's); "
                f"{len(lacking)} are missing from it, {len(reshaped)} have other shapes"
            )
        return incompatible

    def _unreadable(self, filename, error):
        """The error for an unreadable file, naming in a run's folder what is left there."""
        same_folder = bool(self.save_dir) and os.path.dirname(
            os.path.abspath(filename)
        ) == os.path.abspath(self.save_dir)
        kept = f"; {self._kept(os.path.basename(filename))}" if same_folder else ""
        return CheckpointError(f"{_unreadable_message(filename, error)}{kept}")

    def _load_file_as_pickle(self, filename):
        """detectron2's reading of a ``.pkl`` file, through the restricted unpickler."""
        data = _read_pickle(filename)
        if "model" in data and "__author__" in data:
            self.logger.info("Reading a file from '%s'", data["__author__"])
            return data
        if "blobs" in data:  # Detectron1 detection models; ImageNet models have none
            data = data["blobs"]
        data = {k: v for k, v in data.items() if not k.endswith("_momentum")}
        return {"model": data, "__author__": "Caffe2", "matching_heuristics": True}


def _unreadable_message(filename, error):
    reason = re.sub(r"\s+", " ", str(error)).strip()[:300]
    return f"cannot read weights file {filename!r} ({type(error).__name__}: {reason})"


def read_weights_file(filename):
    """The dict a ``.pth`` or ``.safetensors`` file holds, read without running code."""
    try:
        if filename.endswith(".safetensors"):
            return _read_safetensors(filename)
        loaded = torch.load(filename, map_location="cpu", weights_only=True)
        if not isinstance(loaded, dict):
            raise TypeError(f"it holds a {type(loaded).__name__}, not a dict of weights")
    except Exception as error:  # noqa: BLE001 (each reader raises its own kinds; all named)
        raise CheckpointError(_unreadable_message(filename, error)) from error
    return loaded


def load_weights(model, path):
    """Load the weights file ``path`` into ``model``; return the model."""
    SafeCheckpointer(model).load(path)
    return model


def remove_partial_checkpoints(folder):
    """Delete the partial checkpoints a killed run left in ``folder``: call it only while
    holding the folder's run lock, so that no live writer owns one."""
    for path in glob.glob(os.path.join(glob.escape(folder), f"*{_PARTIAL}*.pth")):
        os.remove(path)


def save_safetensors(model, path):
    """``model``'s weights as a safetensors file at ``path`` (whole or absent): the format
    to hand a model to others in, since reading it runs no code."""
    from safetensors.torch import save_file

    partial = f"{path}{_PARTIAL}{os.getpid()}"
    try:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path
