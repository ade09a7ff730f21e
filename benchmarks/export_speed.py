"""Inference speed of an exported model: the eager model, its TorchScript file and its
ONNX file run by ONNX Runtime, on the same test images held in memory, side by side in
one run (each the same traced computation: raw detections or logits), with the largest
difference of each file's outputs from the eager model's; and the eager model as the
Predictor runs it (detectron2's inputs and outputs: masks pasted, logits resized) at its
best batch size, since the exported files take one image at a time.

    python -m benchmarks.export_speed --config-file CONFIG --name NAME \\
        [--images 20] [--repeats 3] MODEL.WEIGHTS model_final.pth [KEY VALUE ...]
"""

import argparse
import tempfile
import time

import seg_d2
from seg_d2.engine import load_model
from seg_d2.export import FORMATS, export_model, traceable_model

import numpy as np
import onnxruntime
import torch
from tabulate import tabulate

from .inference import BATCH_SIZES, inference_ms_by_batch, load_test_inputs
from .results_files import write_results


def _runners(model, images, folder):
    """name -> callable(image) giving a list of output tensors."""
    adapter = traceable_model(model, images[0])
    paths = {format: export_model(model, images[0], folder, format) for format in FORMATS}
    scripted = torch.jit.load(paths["torchscript"])
    session = onnxruntime.InferenceSession(paths["onnx"], providers=["CPUExecutionProvider"])
    return {
        "eager (PyTorch)": lambda image: list(adapter(image)),
        "TorchScript": lambda image: list(scripted(image)),
        "ONNX Runtime": lambda image: [
            torch.as_tensor(o) for o in session.run(None, {"image": image.numpy()})
        ],
    }


@torch.no_grad()
def ms_per_image(run, images, repeats):
    run(images[0])  # warm-up
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        for image in images:
            run(image)
        passes.append((time.perf_counter() - start) * 1000 / len(images))
    return float(np.median(passes))


@torch.no_grad()
def largest_difference(run, reference, images):
    return max(
        float((got.float() - want.float()).abs().max())
        for image in images
        for got, want in zip(run(image), reference(image))
        if want.numel()
    )


def _best_batch_run(model, inputs, device, repeats):
    per_batch, best = inference_ms_by_batch(model, inputs, device, repeats)
    return {
        "runtime": f"eager, as the Predictor runs it, batch {best}",
        "ms_per_image": per_batch[best],
        "largest_difference": None,  # post-processed outputs: not the traced tensors
        "ms_per_image_by_batch": per_batch,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    cfg = seg_d2.setup_config(args.config_file, args.opts)
    model = load_model(cfg)
    inputs = load_test_inputs(cfg, cfg.DATASETS.TEST[0], limit=args.images)
    images = [one["image"] for one in inputs]
    with tempfile.TemporaryDirectory() as folder:
        runners = _runners(model, images, folder)
        eager = runners["eager (PyTorch)"]
        runs = [
            {
                "runtime": name,
                "ms_per_image": ms_per_image(run, images, args.repeats),
                "largest_difference": largest_difference(run, eager, images),
            }
            for name, run in runners.items()
        ]
    runs.append(_best_batch_run(model, inputs, cfg.MODEL.DEVICE, args.repeats))
    eager_ms = runs[0]["ms_per_image"]
    rows = [
        [
            r["runtime"],
            f"{r['ms_per_image']:.1f}",
            f"{1000 / r['ms_per_image']:.1f}",
            f"{eager_ms / r['ms_per_image']:.2f}x",
            "—" if r["largest_difference"] is None else f"{r['largest_difference']:.1e}",
        ]
        for r in runs
    ]
    text = tabulate(
        rows,
        headers=[
            "runtime",
            "ms/image (median)",
            "images/s",
            "speed-up vs eager",
            "largest difference",
        ],
        tablefmt="github",
    )
    print(text)
    note = (
        f"`{args.config_file}` with `{' '.join(args.opts)}`: the first {len(images)} images of "
        f"`{cfg.DATASETS.TEST[0]}` at the test size, one at a time, median of {args.repeats} "
        f"passes after a warm-up, {torch.get_num_threads()} threads; the exported files "
        f"are traced on the first image. The last row runs the model on detectron2's inputs "
        f"with its post-processing, at the fastest of batch sizes {BATCH_SIZES}."
    )
    write_results(args.name, "Exported model speed", note, text, {"runs": runs})


if __name__ == "__main__":
    main()
