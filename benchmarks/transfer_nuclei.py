"""Does fine-tuning work? The nuclei Mask R-CNN trained on one imaging kind of the real
nuclei, then fine-tuned on a few images of the other kind, against the same few images
trained from scratch for as many iterations; both scored on the rest of that kind.

    python -m benchmarks.transfer_nuclei --nuclei DIR [--seeds 0 1] [--source-iters 1000]
        [--target-images 30] [--target-iters 300] [--source-augmentations "RandomInvert(0.5)"]

DIR holds the nuclei as the README's commands convert them (DIR/nuclei.json and
DIR/stage1_train/). The imaging kinds, by a rule stated before any training: an image
whose mean intensity (over its pixels and RGB channels, 0..255) is below 100 is a
dark-background fluorescence image (the source kind), any other a bright-field or stained
tissue image (the target kind). The target images are shuffled once (seed 0): the first
``--target-images`` are the fine-tuning set, the rest the test set, for every seed. The
source run adds ``--source-augmentations`` to the config's: by default every other image
inverted, so that the source model has seen nuclei dark on bright as well as bright on dark.
Fine-tuning uses configs/finetune/nuclei_mask_rcnn_R18_FPN.yaml from the source run's
weights; from scratch, configs/nuclei/mask_rcnn_R18_FPN.yaml with the same iterations.
Each run is a ``tools/train_net.py`` command, recorded under benchmarks/results/runs/.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

import seg_d2

import numpy as np
from PIL import Image
from tabulate import tabulate

from .record_run import record
from .results_files import REPO, write_results

NUCLEI_CONFIG = "configs/nuclei/mask_rcnn_R18_FPN.yaml"
FINETUNE_CONFIG = "configs/finetune/nuclei_mask_rcnn_R18_FPN.yaml"
DARK_BELOW = 100  # mean intensity of a dark-background (fluorescence) image
WORK = os.path.join(REPO, "output", "transfer_nuclei")


def imaging_kind(path):
    with Image.open(path) as image:
        return "fluorescence" if np.asarray(image.convert("RGB")).mean() < DARK_BELOW else "bright"


def _subset(dataset, image_ids, path):
    keep = set(image_ids)
    part = {
        **dataset,
        "images": [image for image in dataset["images"] if image["id"] in keep],
        "annotations": [a for a in dataset["annotations"] if a["image_id"] in keep],
    }
    with open(path, "w") as f:
        json.dump(part, f)
    return len(part["images"]), len(part["annotations"])


def split_by_kind(nuclei, target_images):
    """Write source.json, target_train.json and target_test.json into WORK; return the
    numbers of images and instances of each."""
    with open(os.path.join(nuclei, "nuclei.json")) as f:
        dataset = json.load(f)
    images = os.path.join(nuclei, "stage1_train")
    kinds = {"fluorescence": [], "bright": []}
    for image in sorted(dataset["images"], key=lambda image: image["id"]):
        kinds[imaging_kind(os.path.join(images, image["file_name"]))].append(image["id"])
    target = np.random.default_rng(0).permutation(kinds["bright"]).tolist()
    os.makedirs(WORK, exist_ok=True)
    parts = {
        "source": kinds["fluorescence"],
        "target_train": target[:target_images],
        "target_test": target[target_images:],
    }
    return {
        name: _subset(dataset, ids, os.path.join(WORK, f"{name}.json"))
        for name, ids in parts.items()
    }


def _datasets(nuclei):
    images = os.path.join(nuclei, "stage1_train")
    entries = [
        f"transfer_{name}={os.path.join(WORK, name + '.json')}:{images}"
        for name in ("source", "target_train", "target_test")
    ]
    return ["DATASETS.COCO_FORMAT", repr(entries), "DATASETS.TEST", "('transfer_target_test',)"]


def _augmentations(config):
    """The INPUT.EXTRA_AUGMENTATIONS ``config`` gives (after its _BASE_ files)."""
    return list(seg_d2.load_config(os.path.join(REPO, config)).INPUT.EXTRA_AUGMENTATIONS)


def train(name, config, nuclei, *overrides):
    """Run one training as a user would; record it; return the target test's mask AP."""
    output_dir = os.path.join(WORK, name)
    command = [
        sys.executable, "tools/train_net.py", "--config-file", config,
        *_datasets(nuclei), *overrides, "OUTPUT_DIR", output_dir,
    ]  # fmt: skip
    print("+", shlex.join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=REPO)
    record(output_dir, f"transfer_nuclei_{name}", shlex.join(["python", *command[2:]]))
    with open(os.path.join(output_dir, "results.json")) as f:
        return json.load(f)["segm"]["AP"]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nuclei", metavar="DIR", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--source-iters", type=int, default=1000)
    parser.add_argument("--target-images", type=int, default=30)
    parser.add_argument("--target-iters", type=int, default=300)
    parser.add_argument(
        "--source-augmentations",
        nargs="*",
        default=["RandomInvert(0.5)"],
        help="INPUT.EXTRA_AUGMENTATIONS entries added to the config's for the source run",
    )
    args = parser.parse_args(argv)
    sizes = split_by_kind(args.nuclei, args.target_images)
    iters = ["SOLVER.MAX_ITER", str(args.target_iters)]
    augmentations = _augmentations(NUCLEI_CONFIG) + args.source_augmentations
    source_ap = train(
        "source", NUCLEI_CONFIG, args.nuclei,
        "DATASETS.TRAIN", "('transfer_source',)", "SOLVER.MAX_ITER", str(args.source_iters),
        "SOLVER.CHECKPOINT_PERIOD", str(args.source_iters),
        "INPUT.EXTRA_AUGMENTATIONS", repr(augmentations),
    )  # fmt: skip
    weights = os.path.join(WORK, "source", "model_final.pth")
    runs = []
    for seed in args.seeds:
        target = ["DATASETS.TRAIN", "('transfer_target_train',)", "SEED", str(seed), *iters]
        for system, config, extra in (
            ("fine-tuned", FINETUNE_CONFIG, ["MODEL.WEIGHTS", weights]),
            ("from scratch", NUCLEI_CONFIG, ["SOLVER.CHECKPOINT_PERIOD", iters[1]]),
        ):
            name = f"{system.replace(' ', '_').replace('-', '')}_seed{seed}"
            runs.append(
                {
                    "system": system,
                    "seed": seed,
                    "mask_AP": train(name, config, args.nuclei, *target, *extra),
                }
            )
    by_system = {
        system: [run["mask_AP"] for run in runs if run["system"] == system]
        for system in ("fine-tuned", "from scratch")
    }
    gains = [tuned - scratch for tuned, scratch in zip(*by_system.values())]
    rows = [
        [system, " / ".join(f"{ap:.1f}" for ap in aps), f"{np.mean(aps):.1f}"]
        for system, aps in by_system.items()
    ]
    rows.append(["source model alone (no target image)", f"{source_ap:.1f}", f"{source_ap:.1f}"])
    text = tabulate(
        rows, headers=["on the target test images", "mask AP per seed", "mean"], tablefmt="github"
    )
    print(text)
    counts = ", ".join(f"{name}: {n} images, {m} instances" for name, (n, m) in sizes.items())
    note = (
        f"Source: the fluorescence images (mean intensity < {DARK_BELOW}), {NUCLEI_CONFIG} for "
        f"{args.source_iters} iterations, its augmentations and "
        f"{', '.join(args.source_augmentations) or 'no other'}. Target: the other images, "
        "shuffled once; the first "
        f"{args.target_images} train, the rest test. Fine-tuned: {FINETUNE_CONFIG} from the "
        f"source run's weights; from scratch: {NUCLEI_CONFIG}; both {args.target_iters} "
        f"iterations, seeds {args.seeds}. ({counts}.) Each run's command, config difference "
        "and results in benchmarks/results/runs/transfer_nuclei_*/."
    )
    headline = f"headline: gain = {np.mean(gains):.1f}; seeds = {len(args.seeds)}"
    return write_results(
        "transfer_nuclei",
        "Fine-tuning on a new imaging kind of the nuclei: fine-tuned vs from scratch",
        note,
        f"{text}\n\n{headline}",
        {"sizes": sizes, "source_mask_AP": source_ap, "runs": runs, "gain": float(np.mean(gains))},
    )


if __name__ == "__main__":
    main()
