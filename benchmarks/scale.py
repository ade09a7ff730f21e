"""What COCO-size data costs seg_d2 before training starts: registration with validation
against detectron2's ``load_coco_json`` on the same file, and the derived semantic and
panoptic ground truth, at growing sizes.

    python -m benchmarks.scale [--sizes 1000 10000 118287] [--derive-sizes 1000 10000]
        [--work output/scale_coco]

The data is generated (``generate``): a COCO-shaped instances JSON with COCO train2017's
size and statistics (its 80 category ids, 640-pixel-wide or -high images, about 7.3
instances per image, polygons of 8 to 40 points, about 1% crowd regions as uncompressed
RLE), and an image file for each entry, of its stated size: one small JPEG per size,
hard-linked under each image's name, since validation opens every image for its size.
Each step runs in its own process, so that its peak memory (the process's maximum
resident set, imports included) is its own; seg_d2's validation reads image files and
rasterises polygons in forked worker processes, whose largest resident set is shown
apart (forked, they share the parent's pages until they write to them; a worker's peak is
seen only above the children the imports start, such as torch's ldconfig, forked from
the interpreter at about 0.4 GiB).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from seg_d2.data.dense_ground_truth import CACHE_DIR_VARIABLE

import numpy as np
from PIL import Image
from tabulate import tabulate

from .results_files import REPO, write_results

COCO_IMAGES = 118_287
# COCO's 80 category ids (1 to 90, with gaps).
COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
MEAN_INSTANCES = 7.3
CROWD_FRACTION = 0.01
LONG_SIDE = 640
STEPS = (
    "load_coco_json",
    "seg_d2 registration + validation",
    "seg_d2 registration, validated before",
    "derived ground truth",
)
# The steps compared with load_coco_json.
REGISTRATIONS = STEPS[1:3]


def _polygon(rng, width, height):
    """An irregular star-shaped polygon inside the image, COCO-rounded; its bbox and area."""
    side = np.exp(rng.uniform(np.log(4), np.log(0.9 * min(width, height))))
    cx, cy = rng.uniform(side / 2, width - side / 2), rng.uniform(side / 2, height - side / 2)
    points = int(rng.integers(8, 41))
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radii = side / 2 * rng.uniform(0.5, 1.0, points)
    xs = np.clip(cx + radii * np.cos(angles), 0, width).round(2)
    ys = np.clip(cy + radii * np.sin(angles), 0, height).round(2)
    area = 0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))
    box = [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
    coordinates = np.stack([xs, ys], axis=1).ravel().tolist()
    return [coordinates], [round(float(v), 2) for v in box], round(float(area), 2)


def _crowd_region(rng, width, height):
    """A rectangle as COCO's crowd regions are stored: uncompressed RLE, column-major."""
    w, h = int(rng.integers(8, width // 2)), int(rng.integers(8, height // 2))
    x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    counts = [x * height + y]
    for column in range(w):
        counts += [h, height - h if column < w - 1 else (width - x - w) * height + height - y - h]
    return {"size": [height, width], "counts": counts}, [x, y, w, h], float(w * h)


def _image_size(rng):
    short = int(rng.integers(360, LONG_SIDE + 1))
    return (LONG_SIDE, short) if rng.random() < 0.8 else (short, LONG_SIDE)


def generate(folder, num_images, seed=0):
    """Write ``folder``/instances.json and ``folder``/images/ (module docstring); return
    the JSON's path."""
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    sizes = os.path.join(folder, "sizes")
    image_root = os.path.join(folder, "images")
    os.makedirs(sizes, exist_ok=True)
    os.makedirs(image_root, exist_ok=True)
    for image_id in range(1, num_images + 1):
        width, height = _image_size(rng)
        file_name = f"{image_id:012d}.jpg"
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        original = os.path.join(sizes, f"{width}x{height}.jpg")
        if not os.path.exists(original):
            Image.new("RGB", (width, height), (128, 128, 128)).save(original, quality=50)
        link = os.path.join(image_root, file_name)
        if not os.path.exists(link):
            os.link(original, link)
        for _ in range(rng.geometric(1 / MEAN_INSTANCES) - (rng.random() < 0.01)):
            crowd = rng.random() < CROWD_FRACTION
            segmentation, box, area = (_crowd_region if crowd else _polygon)(rng, width, height)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(rng.choice(COCO_CATEGORY_IDS)),
                    "segmentation": segmentation,
                    "bbox": box,
                    "area": area,
                    "iscrowd": int(crowd),
                }
            )
    categories = [
        {"id": i, "name": f"class_{i}", "supercategory": "object"} for i in COCO_CATEGORY_IDS
    ]
    json_file = os.path.join(folder, "instances.json")
    with open(json_file, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return json_file


# Each step as (imports, the step) run in its own process: argv[1] the JSON, argv[2] the
# image root. seg_d2 is imported on both sides: its compatibility layer lets detectron2
# v0.6 import beside current Pillow and NumPy.
_PROGRAMS = {
    "load_coco_json": (
        "import seg_d2; from detectron2.data.datasets import load_coco_json",
        "load_coco_json(sys.argv[1], sys.argv[2], extra_annotation_keys=['id'])",
    ),
    # the same program twice: the second run finds what the first kept
    **dict.fromkeys(
        REGISTRATIONS,
        (
            "from seg_d2.data import register_coco_dataset; "
            "from detectron2.data import DatasetCatalog",
            "register_coco_dataset('scale', sys.argv[1], sys.argv[2]); DatasetCatalog.get('scale')",
        ),
    ),
    "derived ground truth": (
        "from seg_d2.data.coco import ensure_derived_files, register_coco_dataset",
        "register_coco_dataset('scale', sys.argv[1], sys.argv[2]); "
        "ensure_derived_files('scale_panoptic_separated')",
    ),
}
_MEASURE = (
    "import resource, sys, time; {imports}; "
    "children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
    "start = time.perf_counter(); {step}; "
    "print(time.perf_counter() - start, "
    "*(resource.getrusage(who).ru_maxrss * 1024 "
    "for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)), children * 1024)"
)


def measure(step, json_file, image_root, cache):
    """(seconds the step took, imports left out; the process's peak resident bytes; its
    largest worker process's, 0 where none rose above the children the imports started),
    with seg_d2's derived files and validation kept under ``cache``."""
    imports, code = _PROGRAMS[step]
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE.format(imports=imports, step=code), json_file, image_root],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, CACHE_DIR_VARIABLE: cache},
    )
    if result.returncode:
        raise RuntimeError(f"{step} failed on {json_file}:\n{result.stderr}")
    seconds, peak, children_peak, imports_children_peak = map(float, result.stdout.split()[-4:])
    # a child the imports start (torch runs ldconfig, forked from the interpreter) sets a
    # floor under the largest child's peak: only a worker above it is seen
    workers_peak = children_peak if children_peak > imports_children_peak else 0
    return seconds, int(peak), int(workers_peak)


def table(runs):
    rows = [
        [
            f"{run['images']:,}",
            f"{run['annotations']:,}",
            run["step"],
            f"{run['seconds']:.1f}",
            f"{run['peak_bytes'] / 2**30:.2f}",
            f"{run['workers_peak_bytes'] / 2**30:.2f}" if run["workers_peak_bytes"] else "",
            f"{run['time_ratio']:.2f}" if "time_ratio" in run else "",
            f"{run['memory_ratio']:.2f}" if "memory_ratio" in run else "",
        ]
        for run in runs
    ]
    headers = [
        "images",
        "instances",
        "step",
        "s",
        "peak GiB",
        "workers' peak GiB",
        "time ratio",
        "memory ratio",
    ]
    return tabulate(rows, headers=headers, tablefmt="github")


def headline(runs):
    largest = max(run["images"] for run in runs)
    seg_d2 = next(r for r in runs if r["images"] == largest and r["step"] == STEPS[1])
    return (
        f"headline: images = {largest}; time ratio = {seg_d2['time_ratio']:.2f}; "
        f"memory ratio = {seg_d2['memory_ratio']:.2f}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, COCO_IMAGES])
    parser.add_argument(
        "--derive-sizes",
        type=int,
        nargs="*",
        default=[1000, 10_000, COCO_IMAGES],
        help="the sizes at which the derived ground truth is measured too",
    )
    parser.add_argument("--work", default=os.path.join(REPO, "output", "scale_coco"))
    parser.add_argument("--name", default="scale_coco", help="file name under benchmarks/results/")
    args = parser.parse_args(argv)
    runs = []
    for size in args.sizes:
        folder = os.path.join(args.work, str(size))
        start = time.perf_counter()
        json_file = generate(folder, size)
        with open(json_file) as f:
            num_annotations = len(json.load(f)["annotations"])
        print(f"{size} images generated in {time.perf_counter() - start:.0f} s", flush=True)
        image_root = os.path.join(folder, "images")
        steps = STEPS if size in args.derive_sizes else STEPS[:3]
        cache = os.path.join(folder, "cache")  # emptied: the first registration is a first
        shutil.rmtree(cache, ignore_errors=True)
        measured = {step: measure(step, json_file, image_root, cache) for step in steps}
        baseline_seconds, baseline_peak, _ = measured[STEPS[0]]
        for step, (seconds, peak, workers_peak) in measured.items():
            run = {
                "images": size,
                "annotations": num_annotations,
                "step": step,
                "seconds": seconds,
                "peak_bytes": peak,
                "workers_peak_bytes": workers_peak,
            }
            if step in REGISTRATIONS:
                run.update(time_ratio=seconds / baseline_seconds, memory_ratio=peak / baseline_peak)
            runs.append(run)
            print(run, flush=True)
    text = table(runs)
    print(text)
    print(headline(runs))
    return write_results(
        args.name,
        "COCO-size data: registration, validation and derived ground truth",
        f"{__doc__.split(chr(10) + chr(10))[2]}\n\nCommand: `python -m benchmarks.scale "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}`. Time ratio and memory ratio: "
        "a seg_d2 registration over `load_coco_json` alone, measured one after the other at "
        "each size, with an emptied cache: the first registration (`register_coco_dataset` "
        "and what `DatasetCatalog.get` does the first time: parse the JSON once, validate "
        "it, image files and polygons in worker processes, write the evaluation JSON, make "
        "detectron2's records from the same parse), then a registration in a new process "
        "that finds the validation and the evaluation JSON made by the first (each later "
        "training, evaluation or GPU process). The headline is the first's; its memory "
        "ratio is the main process's peak (the workers' is shown apart). The derived "
        "ground truth step (after those) registers the dataset and makes the files its "
        "panoptic variants name (semantic and panoptic PNGs, panoptic JSON).",
        f"{text}\n\n{headline(runs)}",
        {"args": vars(args), "runs": runs},
    )


if __name__ == "__main__":
    main()
