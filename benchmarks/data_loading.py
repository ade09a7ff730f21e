"""Images/s of seg_d2's training data loader (detectron2's, with the configs'
augmentation) on shapes, at 1 and 2 workers, for the instance and semantic configs.

    python -m benchmarks.data_loading [--batches 40] [--repeats 3] [--workers 1 2]

Each measurement builds the loader, takes a few batches to let the workers start,
then times ``--batches`` batches; repeats alternate the worker counts.
"""

import argparse
import itertools
import time

import seg_d2
from seg_d2.engine import Trainer

from tabulate import tabulate

from .comparison import median
from .results_files import write_results

CONFIGS = {
    "instance": "configs/shapes/mask_rcnn_R18_FPN.yaml",
    "semantic": "configs/shapes/unet.yaml",
}
WARMUP_BATCHES = 3


def run(task, workers, batches, repeat, overrides=()):
    cfg = seg_d2.setup_config(CONFIGS[task], [*overrides, "DATALOADER.NUM_WORKERS", str(workers)])
    loader = iter(Trainer.build_train_loader(cfg))
    for _ in range(WARMUP_BATCHES):
        next(loader)
    start = time.perf_counter()
    images = sum(len(batch) for batch in itertools.islice(loader, batches))
    seconds = time.perf_counter() - start
    return {
        "system": f"{task}, {workers} worker(s)",
        "task": task,
        "workers": workers,
        "repeat": repeat,
        "images_per_s": images / seconds,
    }


def table(runs):
    rows = []
    for system in dict.fromkeys(run["system"] for run in runs):
        rows.append(
            [
                system,
                len([r for r in runs if r["system"] == system]),
                f"{median(runs, system, 'images_per_s'):.1f}",
            ]
        )
    return tabulate(rows, headers=["loader", "repeats", "images/s (median)"], tablefmt="github")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tasks", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument(
        "--name", default="data_loading", help="file name under benchmarks/results/"
    )
    parser.add_argument("overrides", nargs="*", help="KEY VALUE config overrides for every loader")
    args = parser.parse_args(argv)
    runs = []
    for repeat in range(args.repeats):
        for task in args.tasks:
            for workers in args.workers:
                runs.append(run(task, workers, args.batches, repeat, args.overrides))
                print(runs[-1], flush=True)
    text = table(runs)
    print(text)
    return write_results(
        args.name,
        "Training data loader throughput on shapes_train",
        f"Configs {CONFIGS}; {args.batches} batches timed after {WARMUP_BATCHES} warm-up batches; "
        f"{args.repeats} repeats alternating the settings; nothing else ran in the process "
        "meanwhile "
        "(the loader has the machine to itself, unlike during training).",
        text,
        {"args": vars(args), "runs": runs},
    )


if __name__ == "__main__":
    main()
