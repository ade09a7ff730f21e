"""Record a finished run under benchmarks/results/runs/NAME/: the results.json the run
wrote; for a training run, config_diff.yaml, where its config.yaml differs from the
committed config its command names (what the overrides and the data changed: with the
command and commit, enough to run it again); and run.json with the command, commit,
machine and the training time and speed from the run's own log, so that a number quoted
in the README points at the file the run itself wrote.

    python -m benchmarks.record_run OUTPUT_DIR NAME --command "python tools/train_net.py ..."
"""

import argparse
import json
import os
import re
import shutil

import seg_d2  # noqa: F401  (first: fixes detectron2 0.6 before anything imports it)
from seg_d2.config import get_cfg
from seg_d2.config_setup import config_file_path, scale_lr_to_batch

import yaml

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


def _flat(node, prefix=""):
    """{"A.B.C": value} of a nested config mapping."""
    flat = {}
    for key, value in node.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def committed_config(config_file):
    """``config_file`` as seg_d2 reads it before the command's overrides and the data:
    detectron2's and seg_d2's defaults, then the file and its bases."""
    cfg = get_cfg()
    cfg.merge_from_file(config_file_path(config_file), allow_unsafe=False)
    scale_lr_to_batch(cfg)
    return _flat(yaml.safe_load(cfg.dump()))


def config_difference(run_config_text, config_file):
    """What config_diff.yaml holds: the run's value of every setting that differs from
    ``config_file`` as committed (at the commit it names), and the settings the run's
    config lacks (added since)."""
    run = _flat(yaml.safe_load(run_config_text))
    committed = committed_config(config_file)
    return {
        "config_file": config_file,
        "config_commit": machine()["commit"],
        "changed": {
            k: v for k, v in sorted(run.items()) if k not in committed or committed[k] != v
        },
        "not_in_run": sorted(set(committed) - set(run)),
    }


def config_file_of(command):
    """The ``--config-file`` a command names (a YAML config: the runs recorded so far); a
    recorded command may end in a note in prose, which shlex would not split."""
    return re.search(r"--config-file[= ]+(\S+)", command).group(1)


def write_config_difference(run_config_text, command, target):
    difference = config_difference(run_config_text, config_file_of(command))
    with open(os.path.join(target, "config_diff.yaml"), "w") as f:
        yaml.safe_dump(difference, f, sort_keys=False)


def record(output_dir, name, command):
    target = os.path.join(RESULTS, name)
    os.makedirs(target, exist_ok=True)
    shutil.copy(os.path.join(output_dir, "results.json"), target)
    seconds = per_iteration = None
    if os.path.exists(os.path.join(output_dir, "config.yaml")):  # a training run's
        with open(os.path.join(output_dir, "config.yaml"), encoding="utf-8") as f:
            write_config_difference(f.read(), command, target)
        with open(os.path.join(output_dir, "log.txt"), encoding="utf-8") as f:
            seconds, per_iteration = _training_time(f.read())
    # config_diff.yaml is against the committed config at the commit recorded here.
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
