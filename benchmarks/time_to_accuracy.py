"""Time to accuracy on the real nuclei: seg_d2's Mask R-CNN and torchvision's trained side by
side on the same split, each evaluated on the validation split every tenth of its schedule
(the evaluations' time left out of the training time, and reported apart).

    python -m benchmarks.time_to_accuracy --nuclei DIR [--seeds 0 1] [--evaluations 10]
        [--torchvision-iters 850] [--name time_to_accuracy_nuclei] [--reuse NAME]
        [KEY VALUE ...]

DIR holds the nuclei as the README's commands convert them (nuclei_train.json,
nuclei_val.json, stage1_train/). torchvision keeps the settings of the nuclei comparison
(benchmarks/instance_torchvision.py: configs/nuclei/mask_rcnn_R18_FPN.yaml's loader,
optimizer and cosine schedule shortened to ``--torchvision-iters`` with a warm-up of 100);
seg_d2 runs configs/nuclei/mask_rcnn_R18_FPN.yaml with the same schedule, then the
``KEY VALUE`` overrides given: everything seg_d2 controls (schedule, sampling, head, loss,
sizes) is its own to choose. Both train by instance_torchvision's step on the same loader.

A run reaches an AP at the training time where its curve first rises to it, interpolated
linearly between the two evaluations around it; each seed's target is the final mask AP of
torchvision's run of that seed (the same batches), and the ratio is seg_d2's mean time to
reach it over torchvision's. ``--reuse NAME`` takes the runs this invocation would make
again from an earlier results file of this script (benchmarks/results/NAME.json: the same
machine and evaluations, and for seg_d2 the same overrides), each with its commit: a trial
of seg_d2's settings trains seg_d2 alone, and seeds can be added in several sittings.
"""

import argparse
import json
import os
import tempfile

import seg_d2
from seg_d2.data.coco import ensure_derived_files
from seg_d2.plots import plot_curves

import numpy as np
from detectron2.evaluation import COCOEvaluator
from tabulate import tabulate

from . import results_files
from .comparison import nuclei_datasets, run_alternating
from .inference import evaluate, load_test_inputs
from .instance_torchvision import SYSTEMS
from .results_files import write_results
from .training import train_like_detectron2

CONFIG = "configs/nuclei/mask_rcnn_R18_FPN.yaml"
WARMUP_ITERS = 100
SEG_D2, TORCHVISION = SYSTEMS


def mask_ap(model, cfg, inputs):
    """Mask AP on ``inputs`` by detectron2's COCO evaluator as train_net builds it, on its
    segm task alone: box AP would double the time of each evaluation on crowded images
    (0 where nothing is detected)."""
    name = cfg.DATASETS.TEST[0]
    ensure_derived_files(name)
    with tempfile.TemporaryDirectory() as folder:
        evaluator = COCOEvaluator(
            name,
            tasks=("segm",),
            output_dir=folder,
            max_dets_per_image=cfg.TEST.DETECTIONS_PER_IMAGE,
        )
        metrics = evaluate(model, inputs, evaluator)
    return {"mask_AP": metrics.get("segm", {}).get("AP", 0.0)}


def time_to_reach(curve, target):
    """The training seconds at which ``curve`` first reaches ``target`` mask AP, linear
    between its evaluations (from 0 s at AP 0); None if it never does."""
    seconds, ap = 0.0, 0.0
    for point in curve:
        if point["mask_AP"] >= target:
            share = (target - ap) / (point["mask_AP"] - ap) if point["mask_AP"] > ap else 1.0
            return seconds + share * (point["training_seconds"] - seconds)
        seconds, ap = point["training_seconds"], point["mask_AP"]
    return None


def summary(runs):
    """Per system: mean final mask AP, training and evaluation seconds, and mean seconds to
    reach the final mask AP of torchvision's run of the same seed (None if a run never
    does); and the ratio of those means, seg_d2's over torchvision's."""
    targets = {
        run["seed"]: run["curve"][-1]["mask_AP"] for run in runs if run["system"] == TORCHVISION
    }
    systems = {}
    for system in SYSTEMS:
        mine = [run for run in runs if run["system"] == system]
        times = [time_to_reach(run["curve"], targets[run["seed"]]) for run in mine]
        systems[system] = {
            "final_mask_AP": float(np.mean([run["curve"][-1]["mask_AP"] for run in mine])),
            "seconds_to_target": None if None in times else float(np.mean(times)),
            "training_seconds": float(
                np.mean([run["curve"][-1]["training_seconds"] for run in mine])
            ),
            "evaluation_seconds": float(
                np.mean(
                    [sum(point["evaluation_seconds"] for point in run["curve"]) for run in mine]
                )
            ),
        }
    reached = systems[SEG_D2]["seconds_to_target"]
    ratio = None if reached is None else reached / systems[TORCHVISION]["seconds_to_target"]
    return systems, ratio


def evaluation_period(max_iter, evaluations):
    return max(1, max_iter // evaluations)


def evaluated_iterations(max_iter, evaluations):
    """The iterations after which a run of ``max_iter`` is evaluated (``_PeriodicEvaluation``
    of benchmarks.training: every period and after the last)."""
    period = evaluation_period(max_iter, evaluations)
    return list(range(period, max_iter + 1, period)) + ([max_iter] if max_iter % period else [])


# What a step's time depends on besides the code: runs measured with others are not compared.
SAME_MACHINE = ("cpu", "torch_threads", "gpu")


def reused_runs(name, configs, overrides, evaluations):
    """The runs of the results file ``name`` that this invocation would make again, by
    (system, seed): torchvision's evaluated at the same iterations, seg_d2's too and from
    the same overrides; each with the commit it was made at. A file measured on another
    machine is refused: its training times are not comparable with this one's."""
    with open(os.path.join(results_files.RESULTS, f"{name}.json")) as f:
        data = json.load(f)
    here = results_files.machine()
    there = data["machine"]
    if any(there.get(key) != here[key] for key in SAME_MACHINE):
        shown = "; ".join(
            f"{key}: {there.get(key)} there, {here[key]} here" for key in SAME_MACHINE
        )
        raise SystemExit(
            f"--reuse {name}: {name}.json was measured on another machine ({shown}), so its "
            "training times cannot be set beside this machine's; train them here (leave "
            "--reuse out)"
        )
    found = {}
    for run in data["runs"]:
        cfg = configs[run["system"]]
        iterations = evaluated_iterations(cfg.SOLVER.MAX_ITER, evaluations)
        if [point["iteration"] for point in run["curve"]] != iterations:
            continue
        if run["system"] == SEG_D2 and data["overrides"] != overrides:
            continue
        found[run["system"], run["seed"]] = {"commit": data["machine"]["commit"], **run}
    return found


def plot(runs, target, path):
    """Each run's mask AP against its training minutes, and the target."""
    curves = {
        f"{run['system']}, seed {run['seed']}": [
            (point["training_seconds"] / 60, point["mask_AP"]) for point in run["curve"]
        ]
        for run in runs
    }
    end = max(points[-1][0] for points in curves.values())
    curves["torchvision's final mask AP (mean)"] = [(0, target), (end, target)]
    xlabel = "training time (min, evaluations left out)"
    return plot_curves(path, "mask AP on nuclei_val", curves, "mask AP", xlabel=xlabel)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nuclei", metavar="DIR", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--evaluations", type=int, default=10)
    parser.add_argument("--torchvision-iters", type=int, default=850)
    parser.add_argument(
        "--name", default="time_to_accuracy_nuclei", help="file name under benchmarks/results/"
    )
    parser.add_argument(
        "--reuse", metavar="NAME", help="the runs of benchmarks/results/NAME.json made alike"
    )
    parser.add_argument("overrides", nargs="*", help="seg_d2's KEY VALUE config overrides")
    args = parser.parse_args(argv)
    iters = args.torchvision_iters
    reference = [
        *nuclei_datasets(args.nuclei),
        *("SOLVER.MAX_ITER", str(iters), "SOLVER.WARMUP_ITERS", str(min(WARMUP_ITERS, iters // 2))),
    ]
    configs = {
        TORCHVISION: seg_d2.setup_config(CONFIG, reference),
        SEG_D2: seg_d2.setup_config(CONFIG, reference + args.overrides),
    }
    # before the test images load: a file of another machine is refused at once
    reused = (
        reused_runs(args.reuse, configs, args.overrides, args.evaluations) if args.reuse else {}
    )
    # each at its own test size
    inputs = {
        system: load_test_inputs(cfg, cfg.DATASETS.TEST[0]) for system, cfg in configs.items()
    }
    commit = results_files.machine()["commit"]

    def run(system, seed):
        if (system, seed) in reused:
            return reused[system, seed]
        cfg = configs[system]
        period = evaluation_period(cfg.SOLVER.MAX_ITER, args.evaluations)
        _, result = train_like_detectron2(
            system,
            SYSTEMS[system],
            cfg,
            seed,
            evaluation=(period, lambda model: mask_ap(model, cfg, inputs[system])),
        )
        return {"commit": commit, **result}

    runs = run_alternating(SYSTEMS, args.seeds, run)
    systems, ratio = summary(runs)
    target = systems[TORCHVISION]["final_mask_AP"]
    rows = [
        [
            system,
            f"{values['final_mask_AP']:.1f}",
            "not reached"
            if values["seconds_to_target"] is None
            else f"{values['seconds_to_target'] / 60:.1f}",
            f"{values['training_seconds'] / 60:.1f}",
            f"{values['evaluation_seconds'] / 60:.1f}",
        ]
        for system, values in systems.items()
    ]
    curves = [
        [
            run["system"],
            run["seed"],
            point["iteration"],
            f"{point['training_seconds'] / 60:.2f}",
            f"{point['mask_AP']:.1f}",
        ]
        for run in runs
        for point in run["curve"]
    ]
    text = tabulate(
        rows,
        headers=["system", "final mask AP", "min to target", "training min", "evaluation min"],
        tablefmt="github",
    )
    text += "\n\nCurves:\n\n" + tabulate(
        curves,
        headers=["system", "seed", "iteration", "training min", "mask AP"],
        tablefmt="github",
    )
    plot(runs, target, os.path.join(results_files.RESULTS, f"{args.name}.png"))
    print(text)
    shown = "not reached" if ratio is None else f"{ratio:.2f}"
    headline = (
        f"headline: time-to-accuracy ratio = {shown}; seg_d2 final mask AP = "
        f"{systems[SEG_D2]['final_mask_AP']:.1f}; torchvision final mask AP = "
        f"{systems[TORCHVISION]['final_mask_AP']:.1f}"
    )
    note = (
        f"Target: the final mask AP of torchvision's run of the same seed (mean {target:.1f}, "
        f"seeds {args.seeds}). "
        f"torchvision: {CONFIG} with {' '.join(reference[2:])}; seg_d2: the same with "
        f"{' '.join(args.overrides) or 'nothing else'}. Each evaluated on nuclei_val every "
        f"{args.evaluations}th of its schedule and after the last step; minutes are the "
        "training steps' own time (loading included, evaluations left out); 'min to target' "
        f"interpolates between the evaluations around it. Plot: {args.name}.png."
    )
    taken = [
        f"{system} seed {seed} (at {reused[system, seed]['commit']})"
        for system, seed in sorted(reused)
        if seed in args.seeds
    ]
    if taken:
        note += f" Taken from {args.reuse}.json, not trained again: {', '.join(taken)}."
    return write_results(
        args.name,
        "Time to accuracy on the nuclei: seg_d2 vs torchvision's Mask R-CNN",
        note,
        f"{text}\n\n{headline}",
        {
            "target_mask_AP": target,
            "systems": systems,
            "ratio": ratio,
            "overrides": args.overrides,
            "reused_from": args.reuse if taken else None,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
