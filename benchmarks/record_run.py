"""Record a finished run under benchmarks/results/runs/NAME/: the results.json and (a
training run's) config.yaml the run wrote, and run.json with the command, commit, machine and the
training time and speed from the run's own log, so that a number quoted in the README
points at the file the run itself wrote.

    python -m benchmarks.record_run OUTPUT_DIR NAME --command "python tools/train_net.py ..."
"""

import argparse
import json
import os
import re
import shutil

from .results_files import machine

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "runs")


def _training_time(log_text):
    """(seconds, seconds per iteration) from detectron2's "Overall training speed" line,
    the last one: detectron2 appends to the log of an output folder used before."""
    found = re.findall(
        r"Overall training speed: (\d+) iterations in (\d+):(\d\d):(\d\d) \(([\d.]+) s / it\)",
        log_text,
    )
    if not found:
        return None, None
    _, hours, minutes, seconds, per_iteration = found[-1]
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds), float(per_iteration)


def record(output_dir, name, command):
    target = os.path.join(RESULTS, name)
    os.makedirs(target, exist_ok=True)
    shutil.copy(os.path.join(output_dir, "results.json"), target)
    seconds = per_iteration = None
    if os.path.exists(os.path.join(output_dir, "config.yaml")):  # a training run's
        shutil.copy(os.path.join(output_dir, "config.yaml"), target)
        with open(os.path.join(output_dir, "log.txt"), encoding="utf-8") as f:
            seconds, per_iteration = _training_time(f.read())
    # config.yaml is the configuration the run used; the commit is the one recorded at.
    run = {
        "command": command,
        **machine(),
        "training_seconds": seconds,
        "seconds_per_iteration": per_iteration,
    }
    with open(os.path.join(target, "run.json"), "w") as f:
        json.dump(run, f, indent=2)
    return target


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output_dir")
    parser.add_argument("name")
    parser.add_argument("--command", required=True, help="the command that made the run, as typed")
    args = parser.parse_args()
    print("recorded in", record(args.output_dir, args.name, args.command))


if __name__ == "__main__":
    main()
