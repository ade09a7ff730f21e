"""Training speed of several processes against one on this machine's CPU: the same
config, the same total batch (SOLVER.IMS_PER_BATCH), run through tools/train_net.py
with --num-gpus 1 and 2 (gloo), one after the other, the order alternated per repeat.
Speed is detectron2's median seconds per iteration after its first iterations.

    python -m benchmarks.multi_process [--config-file configs/shapes/unet.yaml]
        [--iterations 60] [--repeats 4] [KEY VALUE ...]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from tabulate import tabulate

from .comparison import median
from .results_files import write_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seconds_per_iteration(config_file, processes, iterations, opts):
    """detectron2's median training seconds per iteration of one run."""
    with tempfile.TemporaryDirectory() as output_dir:
        command = [
            sys.executable,
            os.path.join(REPO, "tools", "train_net.py"),
            "--num-gpus",
            str(processes),
            "--config-file",
            config_file,
            "SOLVER.MAX_ITER",
            str(iterations),
            "TEST.EVAL_PERIOD",
            "0",
            "SOLVER.CHECKPOINT_PERIOD",
            str(10 * iterations),
            "OUTPUT_DIR",
            output_dir,
            *opts,
        ]
        subprocess.run(command, check=True, cwd=REPO, capture_output=True)
        with open(os.path.join(output_dir, "metrics.json")) as f:
            times = [json.loads(line).get("time") for line in f]
    return [t for t in times if t is not None][-1]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", default="configs/shapes/unet.yaml")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--name", default="multi_process")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    runs = []
    for repeat in range(args.repeats):
        for processes in (1, 2) if repeat % 2 == 0 else (2, 1):
            seconds = seconds_per_iteration(args.config_file, processes, args.iterations, args.opts)
            runs.append({"system": f"{processes} process(es)", "s_per_it": seconds})
            print(runs[-1], flush=True)
    one, two = (median(runs, f"{n} process(es)", "s_per_it") for n in (1, 2))
    rows = [
        ["1 process", f"{one:.3f}", "1.00"],
        ["2 processes (gloo)", f"{two:.3f}", f"{one / two:.2f}"],
    ]
    text = tabulate(rows, headers=["training", "s / iteration", "speed-up"], tablefmt="github")
    print(text)
    note = (
        f"`{args.config_file}`, {args.iterations} iterations per run, the same total batch; "
        f"median of detectron2's per-iteration time over {args.repeats} runs each, alternated. "
        f"On a CPU each of the 2 processes gets half the cores (seg_d2's launch), so on a "
        f"{os.cpu_count()}-core machine the processes share the same cores one process uses: "
        "the ratio measures the cost of the exchange, not a gain from more hardware."
    )
    write_results(
        args.name,
        "Training under 2 processes vs 1 (CPU, gloo)",
        note,
        text,
        {"runs": runs, "speed_up": one / two},
    )


if __name__ == "__main__":
    main()
