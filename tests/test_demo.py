"""The demo's last line: whether its run printed the README's digits, judged against the
seed run measured on the same CPU, GPU, thread count and torch version."""

import glob
import json
import os

import pytest
from helpers import REPO, load_module

DEMO = load_module("tools/demo.py")
HERE = {"cpu": "AMD EPYC (family 25, model 1)", "gpu": None, "torch_threads": 2, "torch": "2.14.1"}
RESULTS = {"segm": {"AP": 70.559, "AP50": 87.333, "AP75": 78.745}, "bbox": {"AP": 70.081}}


def _seeds_file(path, machine=HERE, seed=0, config=DEMO.CONFIG, overrides=(), **changed):
    metrics = {"segm/AP": 70.559, "bbox/AP": 70.081, "segm/AP50": 87.333, "segm/AP75": 78.745}
    metrics.update(changed)
    with open(path, "w") as f:
        json.dump(
            {
                "machine": {**machine, "date": "2026-12-07 01:30 UTC", "commit": "abc1234"},
                "config": config,
                "overrides": list(overrides),
                "runs": [{"seed": seed, "metrics": metrics}],
            },
            f,
        )
    return str(path)


def test_a_run_with_the_readmes_digits_says_so_and_names_the_file(tmp_path):
    other = _seeds_file(
        tmp_path / "a.json", machine={**HERE, "cpu": "AMD EPYC (family 25, model 17)"}
    )
    same = _seeds_file(tmp_path / "b.json")
    said = DEMO.readme_comparison(RESULTS, 0, HERE, [other, same])
    assert said == (
        "the README's digits: those of its seed-0 run on this machine (AMD EPYC (family 25, "
        f"model 1), 2 threads, torch 2.14.1; {same})"
    )


def test_a_run_with_other_digits_names_each_metric_that_differs(tmp_path):
    seeds = _seeds_file(tmp_path / "a.json", **{"segm/AP": 70.3, "segm/AP75": 78.0})
    said = DEMO.readme_comparison(RESULTS, 0, HERE, [seeds])
    assert said.startswith(
        "not the README's digits: mask AP 70.6 vs 70.3, mask AP75 78.7 vs 78.0 in its seed-0 run"
    )
    assert said.endswith(f"{seeds})")


def test_digits_are_compared_as_printed(tmp_path):
    seeds = _seeds_file(tmp_path / "a.json", **{"segm/AP": 70.58})  # prints 70.6 too
    assert DEMO.readme_comparison(RESULTS, 0, HERE, [seeds]).startswith("the README's digits")


@pytest.mark.parametrize(
    "changed",
    [
        {"machine": {**HERE, "cpu": "AMD EPYC (family 25, model 17)"}},
        {"machine": {**HERE, "gpu": "NVIDIA H100"}},
        {"machine": {**HERE, "torch_threads": 16}},
        {"machine": {**HERE, "torch": "2.13.0"}},
        {"seed": 1},
        {"config": "configs/shapes/unet.yaml"},
        {"overrides": ["SOLVER.MAX_ITER", "10"]},
    ],
)
def test_no_run_to_compare_with_where_the_digits_may_differ(tmp_path, changed):
    seeds = _seeds_file(tmp_path / "a.json", **changed)
    said = DEMO.readme_comparison(RESULTS, 0, HERE, [seeds])
    assert said == (
        "the README has no seed-0 run of this config on this machine (AMD EPYC (family 25, "
        "model 1), 2 threads, torch 2.14.1): other processors, thread counts or torch "
        "versions give other digits for the same seed"
    )


def test_each_seeds_file_of_the_demo_is_measured_on_another_machine():
    """One file per setting, so the demo compares with exactly one run."""
    settings = []
    for path in glob.glob(DEMO.SEED_RUNS, root_dir=REPO):
        with open(os.path.join(REPO, path)) as f:
            measured_on = json.load(f)["machine"]
        settings.append(tuple(measured_on[key] for key in DEMO.SAME_DIGITS))
    assert len(settings) >= 2 and len(set(settings)) == len(settings)
