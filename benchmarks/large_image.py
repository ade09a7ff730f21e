"""Semantic inference on large images through seg_d2.Predictor: the whole image at once
against sliding windows (``TEST.SLIDING_WINDOW``), at the images' own resolution
(``INPUT.MIN_SIZE_TEST 0``), with the peak memory growth and the seconds of each, one
after the other in one run. The weights do not matter for memory or time: the config's
model is used as built (random), or with ``MODEL.WEIGHTS``.

    python -m benchmarks.large_image [--config-file configs/nuclei/unet.yaml]
        [--sizes 2048 8000] [--whole-up-to 2048] [--window 512] [KEY VALUE ...]
"""

import argparse
import time

import seg_d2
from seg_d2.engine import Predictor

import numpy as np
from tabulate import tabulate

from .peak_memory import PeakMemory
from .results_files import write_results


def run(cfg, side, window):
    """Peak MiB and seconds of one side x side image predicted with ``window`` (0: whole)."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.TEST.SLIDING_WINDOW.SIZE = window
    predictor = Predictor(cfg)
    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    with PeakMemory(cfg.MODEL.DEVICE) as memory:
        start = time.perf_counter()
        output = predictor(image, "RGB")
        seconds = time.perf_counter() - start
    assert output["sem_seg"].shape[1:] == (side, side)
    return {"side": side, "window": window, "peak_MiB": memory.mebibytes, "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", default="configs/nuclei/unet.yaml")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8000])
    parser.add_argument(
        "--whole-up-to", type=int, default=2048, help="largest side also run as a whole image"
    )
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--name", default="large_image")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    cfg = seg_d2.setup_config(
        args.config_file, ["INPUT.MIN_SIZE_TEST", "0", "MODEL.WEIGHTS", "", *args.opts]
    )
    runs = []
    for side in args.sizes:
        for window in ([0] if side <= args.whole_up_to else []) + [args.window]:
            runs.append(run(cfg, side, window))
            print(runs[-1], flush=True)
    rows = [
        [
            f"{r['side']} x {r['side']}",
            f"windows of {r['window']}" if r["window"] else "whole image",
            f"{r['peak_MiB']:.0f}",
            f"{r['seconds']:.1f}",
        ]
        for r in runs
    ]
    text = tabulate(rows, headers=["image", "inference", "peak MiB", "seconds"], tablefmt="github")
    print(text)
    note = (
        f"`{args.config_file}` (random weights), {cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES} classes, "
        f"one random RGB image per row at its own resolution (INPUT.MIN_SIZE_TEST 0), through "
        f"seg_d2.Predictor; peak memory is the growth of the process's heap during the call. "
        f"Windows are {args.window} px, two thirds of that apart; whole images larger than "
        f"{args.whole_up_to} px are not run."
    )
    write_results(args.name, "Large images: whole vs sliding windows", note, text, {"runs": runs})


if __name__ == "__main__":
    main()
