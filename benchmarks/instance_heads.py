"""Mask head comparison: detectron2's MaskRCNNConvUpsampleHead against each variant
of seg_d2's UpsampleMaskHead, trained with the same config, schedule and seeds.

    python -m benchmarks.instance_heads [--seeds 0 1] [--variants ...] [KEY VALUE ...]

Each run is tools/train_net.py on shapes_train, evaluated on shapes_val. Prints a
table (mean ± spread over seeds) and writes it, with every run, under
benchmarks/results/.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from tabulate import tabulate

from .results_files import REPO, write_results

CONFIG = os.path.join(REPO, "configs", "shapes", "mask_rcnn_R18_FPN.yaml")

# The heads are compared under the per-pixel BCE alone (detectron2's head has no other
# term); the demo's Dice term is one of the loss variants.
BCE_ONLY = ["MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT", "0.0"]
VARIANTS = {
    "detectron2 (deconv)": ["MODEL.ROI_MASK_HEAD.NAME", "MaskRCNNConvUpsampleHead"],
    "seg_d2 bilinear 28": BCE_ONLY,
    "seg_d2 bilinear 56": [*BCE_ONLY, "MODEL.ROI_MASK_HEAD.UPSAMPLE_STAGES", "2"],
    "seg_d2 28 + Dice": ["MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT", "1.0"],
    "seg_d2 28 + boundary": [*BCE_ONLY, "MODEL.ROI_MASK_HEAD.BOUNDARY_LOSS_WEIGHT", "1.0"],
}


def train(variant, seed, overrides, output_root):
    output_dir = os.path.join(
        output_root, variant.replace(" ", "_").replace("(", "").replace(")", ""), f"seed{seed}"
    )
    command = [
        sys.executable,
        os.path.join(REPO, "tools", "train_net.py"),
        "--config-file",
        CONFIG,
        *VARIANTS[variant],
        "SEED",
        str(seed),
        "TEST.EVAL_PERIOD",
        "0",
        "OUTPUT_DIR",
        output_dir,
        *overrides,
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(os.path.join(output_dir, "results.json")) as f:
        results = json.load(f)
    return {
        "variant": variant,
        "seed": seed,
        "mask_AP": results["segm"]["AP"],
        "mask_AP75": results["segm"]["AP75"],
        "box_AP": results["bbox"]["AP"],
        "train_seconds": seconds,
    }


def table(runs):
    rows = []
    for variant in dict.fromkeys(run["variant"] for run in runs):
        mine = [run for run in runs if run["variant"] == variant]
        row = [variant, len(mine)]
        for key in ("mask_AP", "mask_AP75", "box_AP"):
            values = np.array([run[key] for run in mine])
            row.append(f"{values.mean():.1f} ± {(values.max() - values.min()) / 2:.1f}")
        row.append(f"{np.mean([run['train_seconds'] for run in mine]):.0f}")
        rows.append(row)
    return tabulate(
        rows,
        headers=["mask head", "seeds", "mask AP", "mask AP75", "box AP", "train s"],
        tablefmt="github",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument(
        "--output-root", default=os.path.join(REPO, "output", "benchmarks", "instance_heads")
    )
    parser.add_argument(
        "--name",
        default="instance_heads",
        help="file name of the results under benchmarks/results/",
    )
    parser.add_argument("overrides", nargs="*", help="KEY VALUE config overrides for every run")
    args = parser.parse_args(argv)
    runs = []
    # Alternate variants within each seed so that drift in machine load spreads evenly.
    for seed in args.seeds:
        for variant in args.variants:
            runs.append(train(variant, seed, args.overrides, args.output_root))
            print(json.dumps(runs[-1]), flush=True)
    text = table(runs)
    print(text)
    note = (
        "Config: configs/shapes/mask_rcnn_R18_FPN.yaml, overrides: "
        f"{' '.join(args.overrides) or 'none'}; "
        f"seeds {args.seeds}; '±' is half the range across seeds."
    )
    write_results(
        args.name,
        "Mask heads on shapes_val",
        note,
        text,
        {"overrides": args.overrides, "runs": runs},
    )


if __name__ == "__main__":
    main()
