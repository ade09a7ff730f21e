"""What a bug report about seg_d2 needs to say about its environment."""

import os

import detectron2
from detectron2.utils.collect_env import collect_env_info as collect_detectron2_env_info

from . import compat

__all__ = ["cache_folder", "collect_env_info"]


def cache_folder(*parts):
    """seg_d2's folder in the user's cache, joined with ``parts``: under ``$XDG_CACHE_HOME``,
    or ``~/.cache`` where that is unset or empty, as tools/env/bootstrap.sh places the
    environment."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(root, "seg_d2", *parts)


def collect_env_info():
    """detectron2's environment table, headed by seg_d2 and whether detectron2's
    compiled ops are present."""
    import seg_d2

    compiled = (
        "yes"
        if compat.HAS_COMPILED_OPS
        else "no (seg_d2 stand-in: rotated boxes and deformable convolution unavailable)"
    )
    header = (
        f"seg_d2 {seg_d2.__version__} @{os.path.dirname(seg_d2.__file__)}\n"
        f"detectron2 {detectron2.__version__} @{os.path.dirname(detectron2.__file__)}\n"
        f"detectron2 compiled ops: {compiled}\n"
    )
    return header + collect_detectron2_env_info()


def run(argv=None):
    """``seg-d2 env``: print the table."""
    import argparse

    argparse.ArgumentParser(
        description="Print seg_d2's and detectron2's environment, for a bug report.",
        epilog="example: seg-d2 env > env.txt",
    ).parse_args(argv)
    print(collect_env_info())
    return 0
