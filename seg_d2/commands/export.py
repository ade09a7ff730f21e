"""Export a trained model to TorchScript or ONNX (seg_d2/export.py says what the file
takes and returns), traced on a sample image, and check it against the model; or its
weights alone to a safetensors file, which loads (as MODEL.WEIGHTS) without running code.

    seg-d2 export --config-file CFG --weights model_final.pth \\
        --format torchscript|onnx|safetensors --output DIR [--sample-image FILE] [KEY VALUE ...]
    seg-d2 export --run OUTPUT_DIR [--weights best/model_best.pth] --format onnx \\
        --sample-image FILE --output DIR

The sample image (default: the first image of the config's test dataset) is resized as
``seg_d2.Predictor`` resizes it; the command prints the largest difference between the
exported model's outputs and the model's on it.

``python tools/export_model.py`` runs the same command.
"""

import argparse
import os

import seg_d2
from seg_d2.cli import exit_status, run_command
from seg_d2.config_setup import is_lazy_config, with_weights_and_device
from seg_d2.data.image_io import read_image
from seg_d2.engine import Predictor, load_model
from seg_d2.engine.checkpoint import save_safetensors
from seg_d2.engine.run_folder import add_model_arguments, load_run
from seg_d2.errors import ConfigError
from seg_d2.export import FORMATS, export_model, run_exported, traceable_model

import torch
from detectron2.data import DatasetCatalog


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--format", choices=(*FORMATS, "safetensors"), default="torchscript")
    parser.add_argument(
        "--output", required=True, help="folder for model.ts / model.onnx / model.safetensors"
    )
    parser.add_argument(
        "--sample-image", help="default: the test dataset's first image (with --config-file)"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)

    if args.run:
        if args.format != "safetensors" and args.sample_image is None:
            parser.error("--run needs --sample-image to trace on (the run's data may be gone)")
        cfg, _ = load_run(args.run, args.weights, args.opts)
        if is_lazy_config(cfg):
            raise ConfigError(
                f"{args.run} is the run of a Python config; seg-d2 export takes runs of YAML "
                "configs (a Python config's run predicts and draws: seg-d2 predict --run)"
            )
    else:
        overrides = with_weights_and_device(args.config_file, args.opts, args.weights)
        cfg = seg_d2.setup_config(args.config_file, overrides)
    model = load_model(cfg)
    if args.format == "safetensors":
        os.makedirs(args.output, exist_ok=True)
        path = save_safetensors(model, os.path.join(args.output, "model.safetensors"))
        print(f"wrote {path}; use it as MODEL.WEIGHTS {path}")
        return path, 0.0
    sample = args.sample_image or DatasetCatalog.get(cfg.DATASETS.TEST[0])[0]["file_name"]
    image = Predictor(cfg, model).model_input(read_image(sample, format="RGB"), "RGB")["image"]
    path = export_model(model, image, args.output, args.format)
    with torch.no_grad():
        expected = traceable_model(model, image)(image)
        exported = run_exported(path, image)
    difference = max(
        (
            float((a.float() - b.float()).abs().max())
            for a, b in zip(expected, exported)
            if a.numel()
        ),
        default=0.0,
    )
    print(f"wrote {path}; largest difference from the model on {sample}: {difference:.2e}")
    return path, difference


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))
