"""Test-time augmentation's gain: one trained model scored on its config's test split
without and with ``TEST.AUG`` (the config's sizes and flip), side by side in one run,
with the model's milliseconds per image for each (the evaluator's own work left out).

    python -m benchmarks.test_time_augmentation --config-file CONFIG --name NAME \\
        MODEL.WEIGHTS model_final.pth [KEY VALUE ...]
"""

import argparse
import tempfile
import time

import seg_d2
from seg_d2.engine import Trainer, load_model
from seg_d2.modeling import with_test_time_augmentation

import torch

from .inference import load_test_inputs
from .results_files import write_results

# The metrics reported, where the evaluation has them: (task, metric).
METRICS = [
    ("segm", "AP"),
    ("segm", "AP50"),
    ("segm", "AP75"),
    ("bbox", "AP"),
    ("sem_seg", "mIoU"),
    ("sem_seg", "fwIoU"),
]


@torch.no_grad()
def score(model, inputs, evaluator):
    """The evaluation's results and the model's milliseconds per image, one image at a
    time as detectron2's test loader feeds it."""
    model.eval()
    evaluator.reset()
    seconds = 0.0
    for one in inputs:
        start = time.perf_counter()
        outputs = model([one])
        seconds += time.perf_counter() - start
        evaluator.process([one], outputs)
    return evaluator.evaluate(), 1000 * seconds / len(inputs)


def compare(cfg):
    """{"plain": ..., "tta": ...}, each with its metrics and ms per image."""
    model = load_model(cfg)
    dataset = cfg.DATASETS.TEST[0]
    inputs = load_test_inputs(cfg, dataset)
    variants = {"plain": model, "tta": with_test_time_augmentation(cfg, model)}
    runs = {}
    for variant, evaluated in variants.items():
        with tempfile.TemporaryDirectory() as folder:
            results, ms = score(evaluated, inputs, Trainer.build_evaluator(cfg, dataset, folder))
        metrics = {
            f"{task}/{name}": results[task][name]
            for task, name in METRICS
            if name in results.get(task, {})
        }
        runs[variant] = {"metrics": metrics, "ms_per_image": ms}
        print(variant, runs[variant], flush=True)
    return runs


def table(runs):
    rows = ["| | without TTA | with TTA | difference |", "|---|---:|---:|---:|"]
    for metric, plain in runs["plain"]["metrics"].items():
        augmented = runs["tta"]["metrics"][metric]
        rows.append(f"| {metric} | {plain:.1f} | {augmented:.1f} | {augmented - plain:+.1f} |")
    plain_ms, tta_ms = runs["plain"]["ms_per_image"], runs["tta"]["ms_per_image"]
    rows.append(
        f"| inference ms/image | {plain_ms:.0f} | {tta_ms:.0f} | {tta_ms / plain_ms:.2f}x |"
    )
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--name", required=True, help="results file stem")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    cfg = seg_d2.setup_config(args.config_file, args.opts)
    runs = compare(cfg)
    text = table(runs)
    print(text)
    aug = cfg.TEST.AUG
    note = (
        f"`{args.config_file}` with `{' '.join(map(str, args.opts))}`, scored on "
        f"`{cfg.DATASETS.TEST[0]}` without and with test-time augmentation "
        f"(TEST.AUG.MIN_SIZES {tuple(aug.MIN_SIZES)}, MAX_SIZE {aug.MAX_SIZE}, FLIP {aug.FLIP}; "
        f"plain: INPUT.MIN_SIZE_TEST {cfg.INPUT.MIN_SIZE_TEST}), one after the other in one run."
    )
    data = {
        "config_file": args.config_file,
        "overrides": args.opts,
        "test_aug": {"min_sizes": list(aug.MIN_SIZES), "max_size": aug.MAX_SIZE, "flip": aug.FLIP},
        "runs": runs,
    }
    write_results(args.name, "Test-time augmentation", note, text, data)


if __name__ == "__main__":
    main()
