"""Deployment on CPUs: the nuclei models run eagerly by PyTorch and through the Predictor's
ONNX Runtime backends, in float and in int8, side by side in one run: images per second
and the accuracy each gives on the validation split.

    python -m benchmarks.cpu_deploy [--mask-rcnn-run DIR] [--unet-run DIR] [--images 20]
        [--repeats 3]

A run folder is a training of configs/nuclei/mask_rcnn_R18_FPN.yaml (or unet.yaml) on the
nuclei as the README's commands convert them (datasets/nuclei/); a folder without
model_final.pth is trained first, with tools/train_net.py, and recorded under
benchmarks/results/runs/. Each backend runs the same loaded weights: its accuracy over the
whole validation split (detectron2's evaluator, as ``seg-d2 eval ... TEST.BACKEND B``
gives it), its speed on the first ``--images`` validation images held in memory at the test
size, median of ``--repeats`` passes after a warm-up, at the fastest of batch sizes 1, 2, 4
and 8 (the ONNX Runtime backends run one image at a time). int8 is calibrated on
TEST.INT8.CALIBRATION_IMAGES training images; its row "all layers" quantises the prediction
layers too (TEST.INT8.FLOAT_LAYERS []), the trial behind keeping them in float. The ONNX
Runtime backends paste a Mask R-CNN's masks with seg_d2's ``paste_masks`` where the eager
model uses detectron2's ``paste_masks_in_image`` (same pixels); the row "eager PyTorch,
seg_d2's pasting" tells that part of their speed from the rest.
"""

import argparse
import os
import shlex
import subprocess
import sys

import seg_d2
from seg_d2.engine import Trainer, load_model
from seg_d2.engine.onnx_backend import postprocess_detections, with_backend

import torch
from detectron2.modeling import GeneralizedRCNN
from tabulate import tabulate

from .inference import BATCH_SIZES, evaluate, inference_ms_by_batch, load_test_inputs
from .record_run import record
from .results_files import REPO, write_results

WORK = os.path.join(REPO, "output", "cpu_deploy")
MODELS = {
    "Mask R-CNN": ("configs/nuclei/mask_rcnn_R18_FPN.yaml", "segm", "AP", "mask AP"),
    "U-Net": ("configs/nuclei/unet.yaml", "sem_seg", "mIoU", "mIoU"),
}
# (row, TEST.BACKEND, TEST.INT8.FLOAT_LAYERS: None for the config's); the first is eager
BACKENDS = [
    ("eager PyTorch", "pytorch", None),
    ("ONNX Runtime, float", "onnxruntime", None),
    ("ONNX Runtime, int8", "onnxruntime-int8", None),
    ("ONNX Runtime, int8, all layers", "onnxruntime-int8", []),
]
# rows that no backend offers: trials, left out of the headline
TRIALS = ("ONNX Runtime, int8, all layers", "eager PyTorch, seg_d2's pasting")


class EagerWithSegD2Pasting:
    """The eager Mask R-CNN, its masks pasted as the ONNX Runtime backends paste them."""

    def __init__(self, model):
        self._model = model

    def eval(self):
        return self

    def __call__(self, inputs):
        raw = self._model.inference(inputs, do_postprocess=False)
        return [
            {"instances": postprocess_detections(instances, item["height"], item["width"])}
            for instances, item in zip(raw, inputs)
        ]


def trained_run(folder, config, name):
    """``folder``, trained from ``config`` first unless it holds model_final.pth."""
    if not os.path.exists(os.path.join(folder, "model_final.pth")):
        command = [
            *(sys.executable, "tools/train_net.py", "--config-file", config),
            *("OUTPUT_DIR", folder),
        ]
        print("+", shlex.join(command[1:]), flush=True)
        subprocess.run(command, check=True, cwd=REPO)
        record(folder, name, shlex.join(["python", *command[1:]]))
    return folder


def measure(run, metric_group, metric, images, repeats):
    """One row per backend: images/s at the best batch size, and the metric."""
    cfg = seg_d2.setup_config(
        os.path.join(run, "config.yaml"),
        ["MODEL.WEIGHTS", os.path.join(run, "model_final.pth"), "MODEL.DEVICE", "cpu"],
    )
    model = load_model(cfg)
    dataset = cfg.DATASETS.TEST[0]
    inputs = load_test_inputs(cfg, dataset)
    runners = [
        (
            name,
            with_backend(
                backend,
                model,
                model,
                calibration=lambda: Trainer.calibration_loader(cfg),
                float_layers=cfg.TEST.INT8.FLOAT_LAYERS if layers is None else layers,
            ),
        )
        for name, backend, layers in BACKENDS
    ]
    if isinstance(model, GeneralizedRCNN):
        runners.insert(1, (TRIALS[1], EagerWithSegD2Pasting(model)))
    rows = []
    for name, runner in runners:
        evaluator = Trainer.build_evaluator(cfg, dataset, os.path.join(WORK, "inference", name))
        score = evaluate(runner, inputs, evaluator)[metric_group][metric]
        per_batch, best = inference_ms_by_batch(runner, inputs[:images], "cpu", repeats)
        rows.append(
            {
                "backend": name,
                "images_per_second": 1000 / per_batch[best],
                "best_batch_size": best,
                "score": score,
            }
        )
        print(rows[-1], flush=True)
    eager = rows[0]
    for row in rows:
        row["speedup"] = row["images_per_second"] / eager["images_per_second"]
        row["drop"] = eager["score"] - row["score"]
    return rows


def table(rows, label):
    return tabulate(
        [
            [
                row["backend"],
                f"{row['images_per_second']:.2f}",
                row["best_batch_size"],
                f"{row['speedup']:.2f}",
                f"{row['score']:.1f}",
                f"{row['drop']:.1f}",
            ]
            for row in rows
        ],
        headers=["backend", "images/s", "batch", "speedup", label, f"{label} drop"],
        tablefmt="github",
    )


def fastest(rows):
    """The fastest backend other than eager PyTorch that the Predictor offers (the trial
    rows left out)."""
    offered = [row for row in rows[1:] if row["backend"] not in TRIALS]
    return max(offered, key=lambda row: row["images_per_second"])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mask-rcnn-run", default=os.path.join(WORK, "mask_rcnn_R18_FPN"))
    parser.add_argument("--unet-run", default=os.path.join(WORK, "unet"))
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    folders = {"Mask R-CNN": args.mask_rcnn_run, "U-Net": args.unet_run}
    results, texts, summaries = {}, [], []
    for model, (config, group, metric, label) in MODELS.items():
        run = trained_run(folders[model], config, f"cpu_deploy_{os.path.basename(folders[model])}")
        rows = measure(run, group, metric, args.images, args.repeats)
        best = fastest(rows)
        results[model] = {"run": os.path.relpath(run, REPO), "rows": rows}
        texts.append(f"{model} ({os.path.relpath(run, REPO)}):\n\n{table(rows, label)}")
        summaries.append(f"speedup = {best['speedup']:.2f}; {label} drop = {best['drop']:.1f}")
    text = "\n\n".join(texts)
    print(text)
    note = (
        f"Each model's validation split through each backend; images/s on its first "
        f"{args.images} images at the test size, median of {args.repeats} passes, the fastest "
        f"of batch sizes {BATCH_SIZES} (ONNX Runtime one image at a time), "
        f"{torch.get_num_threads()} PyTorch threads, ONNX Runtime's default threads. int8: "
        "calibrated on TEST.INT8.CALIBRATION_IMAGES training images, TEST.INT8.FLOAT_LAYERS "
        'in float; "all layers": none in float. Speedup and drop: of the fastest backend '
        "that the Predictor offers, against eager PyTorch; the headline is the Mask R-CNN's."
    )
    footer = f"U-Net: {summaries[1]}\n\nheadline: {summaries[0]}"
    return write_results(
        "cpu_deploy_nuclei",
        "Deployment on CPUs: eager PyTorch and ONNX Runtime (float, int8) on the nuclei",
        note,
        f"{text}\n\n{footer}",
        results,
    )


if __name__ == "__main__":
    main()
