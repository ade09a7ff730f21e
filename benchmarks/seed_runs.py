"""One config trained with several seeds, each run recorded as record_run does, and the
spread of its headline numbers over the seeds: the README states accuracy as the mean
and range of these runs, so that a single run (a newcomer's ``make demo``) can be placed
inside it.

    python -m benchmarks.seed_runs --config-file configs/shapes/mask_rcnn_R18_FPN.yaml \\
        --name shapes_mask_rcnn_R18_FPN --metrics segm/AP bbox/AP --seeds 0 1 2 [-- KEY VALUE ...]

Writes benchmarks/results/runs/NAME_seedK/ per seed and benchmarks/results/seeds_NAME.{md,json}.
``--command`` runs something else per seed instead of training a config, e.g. the post-hoc
panoptic combination of each seed's two models; ``{seed}`` and ``{output_dir}`` in it are
filled in:

    python -m benchmarks.seed_runs --name shapes_posthoc_panoptic --metrics panoptic_seg/PQ \
        --command "python tools/combine_panoptic.py ... --output-dir {output_dir}"
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from tabulate import tabulate

from .record_run import record
from .results_files import REPO, write_results


def metric(results, path):
    """``results["segm"]["AP"]`` for the path "segm/AP"."""
    group, key = path.split("/", 1)
    return results[group][key]


def seed_command(seed, output_dir, config=None, overrides=(), template=None):
    """The command for one seed: ``template`` filled in, or training ``config`` with that seed."""
    if template is not None:
        return shlex.split(template.format(seed=seed, output_dir=output_dir))
    return [
        "python",
        "tools/train_net.py",
        "--config-file",
        config,
        "SEED",
        str(seed),
        "OUTPUT_DIR",
        output_dir,
        *overrides,
    ]


def run(command):
    """Run ``command`` (its "python" being this interpreter) in the repository; its seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *command[1:]], check=True, cwd=REPO)
    return time.perf_counter() - start


def summarize(runs, metrics):
    """Mean, lowest and highest of each metric over the runs."""
    summary = {}
    for path in metrics:
        values = [run["metrics"][path] for run in runs]
        summary[path] = {
            "mean": sum(values) / len(values),
            "min": min(values),
            "max": max(values),
        }
    return summary


def table(runs, summary, metrics):
    rows = [
        [
            f"seed {run['seed']}",
            *(f"{run['metrics'][m]:.1f}" for m in metrics),
            _minutes(run["training_seconds"]),
            _minutes(run["wall_seconds"]),
        ]
        for run in runs
    ]
    rows.append(["mean", *(f"{summary[m]['mean']:.1f}" for m in metrics), "", ""])
    rows.append(
        ["range", *(f"{summary[m]['min']:.1f}-{summary[m]['max']:.1f}" for m in metrics), "", ""]
    )
    return tabulate(
        rows,
        headers=["run", *metrics, "training min", "wall min"],
        tablefmt="github",
        disable_numparse=True,
    )


def _minutes(seconds):
    """A run that only evaluates has no training time: an empty cell."""
    return "" if seconds is None else f"{seconds / 60:.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config-file", help="train this config once per seed")
    source.add_argument("--command", help="run this per seed instead; {seed}, {output_dir}")
    parser.add_argument("--name", required=True, help="runs/NAME_seedK and seeds_NAME.{md,json}")
    parser.add_argument("--metrics", nargs="+", required=True, help="GROUP/KEY of results.json")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("overrides", nargs="*", help="KEY VALUE pairs for every run, after --")
    args = parser.parse_args(argv)

    runs = []
    for seed in args.seeds:
        output_dir = os.path.join("output", "seed_runs", f"{args.name}_seed{seed}")
        command = seed_command(seed, output_dir, args.config_file, args.overrides, args.command)
        seconds = run(command)
        recorded = record(
            os.path.join(REPO, output_dir), f"{args.name}_seed{seed}", shlex.join(command)
        )
        with open(os.path.join(recorded, "results.json")) as f:
            results = json.load(f)
        with open(os.path.join(recorded, "run.json")) as f:
            recorded_run = json.load(f)
        runs.append(
            {
                "seed": seed,
                "run": os.path.relpath(recorded, os.path.join(REPO, "benchmarks", "results")),
                "metrics": {path: metric(results, path) for path in args.metrics},
                "wall_seconds": seconds,
                "training_seconds": recorded_run["training_seconds"],
                "seconds_per_iteration": recorded_run["seconds_per_iteration"],
            }
        )
    summary = summarize(runs, args.metrics)
    markdown = table(runs, summary, args.metrics)
    print(markdown)
    if args.command is None:
        made_by = (
            f"Each seed trained with `python tools/train_net.py --config-file {args.config_file} "
            f"SEED K {' '.join(args.overrides)}`"
        )
    else:
        made_by = f"Each seed K ran `{args.command}`"
    write_results(
        f"seeds_{args.name}",
        f"{args.config_file or args.name} over seeds {args.seeds}",
        f"{made_by} one after another in one process; wall time includes the evaluations; "
        "each run's files are under runs/.",
        markdown,
        {
            "config": args.config_file,
            "command": args.command,
            "overrides": args.overrides,
            "runs": runs,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
