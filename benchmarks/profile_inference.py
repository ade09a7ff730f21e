"""Where a trained Mask R-CNN's inference time goes: per image (batch 1, the test split's
first images held in memory), the backbone, the RPN, the RoI heads (and RoIAlign within
them) and the pasting of masks into the image, with the detections per image that the
RoI heads and the pasting scale with.

    python -m benchmarks.profile_inference --config-file configs/shapes/mask_rcnn_R18_FPN.yaml \\
        --weights output/shapes/mask_rcnn_R18_FPN/model_final.pth [--images 20] [--name NAME]

Writes benchmarks/results/profile_NAME.{md,json}.
"""

import argparse
import time
from collections import defaultdict

import seg_d2
from seg_d2.engine.predictor import load_model

import torch
from tabulate import tabulate

from .inference import load_test_inputs
from .results_files import write_results


class StageClock:
    """Wall time spent inside each named module's forward, summed over calls."""

    def __init__(self, modules):
        self.seconds = defaultdict(float)
        self._started = {}
        for name, members in modules.items():
            for module in members:
                module.register_forward_pre_hook(self._start(name))
                module.register_forward_hook(self._stop(name))

    def _start(self, name):
        def hook(module, inputs):
            self._started[name] = time.perf_counter()

        return hook

    def _stop(self, name):
        def hook(module, inputs, output):
            self.seconds[name] += time.perf_counter() - self._started.pop(name)

        return hook


def stages(model):
    """The modules timed, by the name the table gives them."""
    heads = model.roi_heads
    return {
        "backbone": [model.backbone],
        "RPN": [model.proposal_generator],
        "RoI heads": [heads],
        "RoIAlign (in RoI heads)": [heads.box_pooler, heads.mask_pooler],
    }


@torch.no_grad()
def profile(model, inputs):
    """{stage: ms per image}, plus mask pasting, the total and detections per image."""
    model([inputs[0]])  # warm-up
    clock = StageClock(stages(model))
    pasting = total = 0.0
    detections = 0
    for image in inputs:
        start = time.perf_counter()
        raw = model.inference([image], do_postprocess=False)
        pasted_from = time.perf_counter()
        # the sizes the model saw, which its raw detections keep
        output = model._postprocess(raw, [image], [detections.image_size for detections in raw])
        end = time.perf_counter()
        pasting += end - pasted_from
        total += end - start
        detections += len(output[0]["instances"])
    per_image = {name: 1000 * s / len(inputs) for name, s in clock.seconds.items()}
    per_image["mask pasting (postprocess)"] = 1000 * pasting / len(inputs)
    per_image["total"] = 1000 * total / len(inputs)
    return per_image, detections / len(inputs)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--name", default="shapes_mask_rcnn")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides")
    args = parser.parse_args(argv)

    cfg = seg_d2.setup_config(args.config_file, ["MODEL.WEIGHTS", args.weights, *args.opts])
    model = load_model(cfg)
    inputs = load_test_inputs(cfg, cfg.DATASETS.TEST[0], args.images)
    per_image, detections = profile(model, inputs)
    rows = [
        [name, f"{ms:.1f}", f"{100 * ms / per_image['total']:.0f}%"]
        for name, ms in per_image.items()
    ]
    table = tabulate(
        rows, headers=["stage", "ms / image", "share"], tablefmt="github", disable_numparse=True
    )
    print(table)
    write_results(
        f"profile_{args.name}",
        f"Mask R-CNN inference profile: {args.config_file}",
        f"Weights {args.weights}; the first {len(inputs)} images of {cfg.DATASETS.TEST[0]} "
        f"held in memory, batch 1, after one warm-up image; {detections:.1f} detections per "
        "image. RoIAlign is part of the RoI heads' time; the total also holds what no row "
        "names (normalisation, padding).",
        table,
        {
            "config": args.config_file,
            "weights": args.weights,
            "images": len(inputs),
            "detections_per_image": detections,
            "ms_per_image": per_image,
        },
    )


if __name__ == "__main__":
    main()
