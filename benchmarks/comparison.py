"""The shape of a comparison: systems run in turn over seeds, summarised per system."""

import json
import os

import seg_d2

import numpy as np

from .inference import load_test_inputs

__all__ = ["compare_on_test_split", "median", "nuclei_datasets", "run_alternating", "spread"]


def nuclei_datasets(folder):
    """The override that registers the README's nuclei as its commands convert them into
    ``folder`` (nuclei_train.json, nuclei_val.json, stage1_train/), wherever that is."""
    images = os.path.join(folder, "stage1_train")
    datasets = [
        f"nuclei_{split}={os.path.join(folder, f'nuclei_{split}.json')}:{images}"
        for split in ("train", "val")
    ]
    return ["DATASETS.COCO_FORMAT", repr(datasets)]


def run_alternating(systems, seeds, run):
    """``run(system, seed)`` for every system and seed, printing each result as it
    lands; within a seed the systems run in turn, reversed on odd seeds so that
    neither always runs first (a warmer machine, a grown allocator)."""
    runs = []
    for seed in seeds:
        order = list(systems) if seed % 2 == 0 else list(systems)[::-1]
        for system in order:
            runs.append(run(system, seed))
            print(json.dumps(runs[-1]), flush=True)
    return runs


def compare_on_test_split(config_file, overrides, systems, seeds, run, table):
    """The shape of a two-system comparison: load the config, hold its test split in
    memory, call ``run(system, cfg, seed, inputs)`` for every system and seed
    (``run_alternating``) and print ``table(runs)``; returns the runs and the table."""
    cfg = seg_d2.setup_config(config_file, overrides)
    inputs = load_test_inputs(cfg, cfg.DATASETS.TEST[0])
    runs = run_alternating(systems, seeds, lambda system, seed: run(system, cfg, seed, inputs))
    text = table(runs)
    print(text)
    return runs, text


def median(runs, system, key):
    return float(np.median([run[key] for run in runs if run["system"] == system]))


def spread(runs, system, key):
    """'mean ± half range' of ``key`` over the runs of ``system``."""
    values = np.array([run[key] for run in runs if run["system"] == system])
    return f"{values.mean():.1f} ± {(values.max() - values.min()) / 2:.1f}"
