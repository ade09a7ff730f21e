#!/usr/bin/env python
"""The main job: train seg_d2's default Mask R-CNN on the embedded shapes dataset
(generated on first use), evaluate it on shapes_val and print a short table.

    python tools/demo.py [KEY VALUE ...]     # overrides go to tools/train_net.py
"""

import glob
import json
import os
import subprocess
import sys
import time

# This clone's seg_d2 first, whatever clone the shared environment was installed from.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import seg_d2  # noqa: F401, E402  (first: fixes detectron2 0.6 before anything imports it)
from seg_d2.cli import run_command
from seg_d2.data.coco import ensure_derived_files
from seg_d2.data.dense_ground_truth import png_name
from seg_d2.data.image_io import read_image
from seg_d2.engine import RESULTS_FILE, Predictor
from seg_d2.evaluation.per_image import coco_ground_truth
from seg_d2.visualization import compare_panel

from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image
from tabulate import tabulate

from benchmarks.results_files import REPO, machine
from benchmarks.seed_runs import metric

PANELS = 4  # ground truth | prediction | errors, for the first validation images

CONFIG = "configs/shapes/mask_rcnn_R18_FPN.yaml"
TOOLS = os.path.dirname(os.path.abspath(__file__))
# The README's rows of the demo over seeds, one file per CPU (benchmarks/seed_runs.py).
SEED_RUNS = "benchmarks/results/seeds_shapes_mask_rcnn_R18_FPN*.json"
SUMMARY_METRICS = {
    "bbox/AP": "box AP",
    "segm/AP": "mask AP",
    "segm/AP50": "mask AP50",
    "segm/AP75": "mask AP75",
}
SAME_DIGITS = ("cpu", "gpu", "torch_threads", "torch")  # what a run's digits depend on


def summary_table(results, seconds):
    rows = [(name, metric(results, path)) for path, name in SUMMARY_METRICS.items()]
    rows += [
        (f"mask AP {key[3:]}", value)
        for key, value in results["segm"].items()
        if key.startswith("AP-")
    ]
    rows.append(("wall time (min)", seconds / 60))
    return tabulate(rows, headers=["shapes_val", "value"], tablefmt="github", floatfmt=".1f")


def readme_comparison(results, seed, here, seed_files):
    """Whether this run printed the README's digits. Floating-point sums, and so the digits,
    differ between processor generations, thread counts and torch versions: the README's run
    to compare with is the one measured with this seed where all of them are as ``here``
    (``machine()``), if there is one."""
    setting = [here[key] for key in SAME_DIGITS]
    this_machine = (
        f"{here['gpu'] or here['cpu']}, {here['torch_threads']} threads, torch {here['torch']}"
    )
    for path in sorted(seed_files):
        with open(os.path.join(REPO, path)) as f:
            seeds = json.load(f)
        if [seeds["machine"][key] for key in SAME_DIGITS] != setting:
            continue
        if seeds["config"] != CONFIG or seeds["overrides"]:
            continue
        for run in seeds["runs"]:
            if run["seed"] != seed:
                continue
            measured = f"its seed-{seed} run on this machine ({this_machine}; {path})"
            differing = [
                f"{SUMMARY_METRICS[key]} {metric(results, key):.1f} vs {value:.1f}"
                for key, value in run["metrics"].items()
                if key in SUMMARY_METRICS and f"{metric(results, key):.1f}" != f"{value:.1f}"
            ]
            if differing:
                return f"not the README's digits: {', '.join(differing)} in {measured}"
            return f"the README's digits: those of {measured}"
    return (
        f"the README has no seed-{seed} run of this config on this machine ({this_machine}): "
        "other processors, thread counts or torch versions give other digits for the same seed"
    )


def write_panels(cfg, folder):
    """GT | prediction | errors panels of the trained model on the first test images."""
    cfg = cfg.clone()
    cfg.MODEL.WEIGHTS = os.path.join(cfg.OUTPUT_DIR, "model_final.pth")
    predictor = Predictor(cfg)
    dataset = cfg.DATASETS.TEST[0]
    ensure_derived_files(dataset)  # the evaluation JSON read next
    metadata = MetadataCatalog.get(dataset)
    coco_gt = coco_ground_truth(metadata.json_file)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for record in DatasetCatalog.get(dataset)[:PANELS]:
        output = predictor(read_image(record["file_name"], format="RGB"), format="RGB")
        path = os.path.join(folder, png_name(os.path.basename(record["file_name"])))
        Image.fromarray(compare_panel(record, output, metadata, coco_gt=coco_gt, errors=True)).save(
            path
        )
        paths.append(path)
    return paths


def main(overrides):
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, os.path.join(TOOLS, "train_net.py"), "--config-file", CONFIG, *overrides],
        check=True,
    )
    cfg = seg_d2.setup_config(CONFIG, overrides)
    with open(os.path.join(cfg.OUTPUT_DIR, RESULTS_FILE)) as f:
        results = json.load(f)
    table = summary_table(results, time.perf_counter() - start)
    if overrides:
        comparison = "overrides given: not the README's run"
    else:
        comparison = readme_comparison(
            results, cfg.SEED, machine(), glob.glob(SEED_RUNS, root_dir=REPO)
        )
    print(table, comparison, sep="\n\n")
    with open(os.path.join(cfg.OUTPUT_DIR, "demo_summary.md"), "w") as f:
        f.write(f"{table}\n\n{comparison}\n")
    print(f"checkpoints, metrics.json, TensorBoard events and results in {cfg.OUTPUT_DIR}/")
    print(
        "training plots:",
        *sorted(glob.glob(os.path.join(cfg.OUTPUT_DIR, "plots", "*.png"))),
        sep="\n  ",
    )
    print(
        "ground truth | prediction | errors:",
        *write_panels(cfg, os.path.join(cfg.OUTPUT_DIR, "panels")),
        sep="\n  ",
    )


if __name__ == "__main__":
    run_command(main, sys.argv[1:])
