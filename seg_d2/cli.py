"""The ``seg-d2`` command, and what seg_d2's commands share: a bad input ends them with a
message that names it, not with a traceback (unless ``SEG_D2_TRACEBACK=1``)."""

import importlib
import os
import re
import sys

from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

from .errors import TRACEBACK_VARIABLE, SegD2Error

__all__ = ["COMMANDS", "exit_status", "main", "run_command"]

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


# seg-d2 COMMAND -> (the module whose ``run(argv)`` it is, what it does). The modules are
# imported only when their command runs, so that ``seg-d2 --help`` answers at once.
COMMANDS = {
    "train": ("seg_d2.commands.train", "train a model from a config, and evaluate it"),
    "eval": ("seg_d2.commands.train", "evaluate trained weights (train --eval-only)"),
    "predict": ("seg_d2.commands.predict", "predict on image files: COCO results, overlays, PNGs"),
    "visualize": ("seg_d2.commands.visualize", "draw ground truth, predictions and errors"),
    "convert": ("seg_d2.data.convert.__main__", "convert masks, VIA or labelme to COCO JSON"),
    "validate": ("seg_d2.data.validate", "check a COCO JSON and its images before training"),
    "suggest": ("seg_d2.commands.suggest", "propose sizes, anchors and detections from the data"),
    "convert-weights": (
        "seg_d2.commands.convert_weights",
        "rename torchvision / timm weights to detectron2's",
    ),
    "export": ("seg_d2.commands.export", "export to TorchScript, ONNX or safetensors"),
    "combine-panoptic": ("seg_d2.commands.combine_panoptic", "panoptic from two trained models"),
    "plot": ("seg_d2.commands.plot_metrics", "plot a run's losses and metrics"),
    "env": ("seg_d2.env", "print the environment, for a bug report"),
}


def _usage():
    width = max(map(len, COMMANDS))
    listing = "\n".join(f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items())
    return (
        "usage: seg-d2 COMMAND [ARGS ...]\n\n"
        "Instance, semantic and panoptic segmentation on detectron2.\n\n"
        f"commands:\n{listing}\n\n"
        "seg-d2 COMMAND --help shows a command's arguments, with examples."
    )


def main(argv=None):
    """``seg-d2 COMMAND ARGS``: run the command's module; its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, *arguments = argv
    if name not in COMMANDS:
        print(f"{_usage()}\n\nerror: unknown command {name!r}", file=sys.stderr)
        return 2
    if name == "eval":
        arguments = ["--eval-only", *arguments]
    sys.argv = [f"seg-d2 {name}", *arguments]  # argparse's prog, and the command a run records
    return importlib.import_module(COMMANDS[name][0]).run(arguments)


def exit_status(result):
    """What a command's ``main`` returned, as its exit status: a number as it is, anything
    else (results, files written) 0."""
    return result if isinstance(result, int) else 0
