"""COCO evaluation time for the same detections: seg_d2's evaluator path against
plain ``pycocotools.COCOeval``, side by side in one run.

    python -m benchmarks.coco_evaluation [--images 5000] [--detections 20] [--repeats 3]

seg_d2's path is what its COCOEvaluator runs after inference: detectron2's
``_evaluate_predictions_on_coco`` with the fast implementation (detectron2's C++
COCOeval when compiled, faster-coco-eval otherwise, see seg_d2/compat.py). The
data are synthetic: per image a few ellipse and rectangle instances and
``--detections`` scored detections (jittered copies of them and false positives),
masks as RLE. Both paths get the same ground truth and result lists; the AP values
must agree, and the run fails if they do not.
"""

import argparse
import contextlib
import io
import time

import seg_d2  # noqa: F401  (first: fixes detectron2 0.6 before anything imports it)
from seg_d2.data.masks import mask_to_rle

import cv2
import numpy as np
from detectron2.evaluation.coco_evaluation import _evaluate_predictions_on_coco
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from tabulate import tabulate

from .comparison import median
from .results_files import write_results

IMAGE_SIZE = 64
NUM_CATEGORIES = 3
AP_TOLERANCE = 1e-6


def _random_mask(rng):
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    center = tuple(int(v) for v in rng.integers(8, IMAGE_SIZE - 8, 2))
    axes = tuple(int(v) for v in rng.integers(3, 20, 2))
    if rng.random() < 0.5:
        cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        cv2.rectangle(
            mask,
            (center[0] - axes[0], center[1] - axes[1]),
            (center[0] + axes[0], center[1] + axes[1]),
            1,
            -1,
        )
    return mask


def _shifted(mask, rng):
    return np.roll(mask, tuple(int(v) for v in rng.integers(-3, 4, 2)), axis=(0, 1))


def _encode(mask):
    rle = mask_to_rle(mask)
    return rle, [float(v) for v in mask_util.toBbox(rle)], int(mask.sum())


def synthetic_coco(num_images, detections_per_image, seed=0):
    """(COCO ground truth dict, detection result list) for ``num_images`` images."""
    rng = np.random.default_rng(seed)
    images, annotations, results = [], [], []
    for image_id in range(1, num_images + 1):
        images.append(
            {
                "id": image_id,
                "width": IMAGE_SIZE,
                "height": IMAGE_SIZE,
                "file_name": f"{image_id}.png",
            }
        )
        objects = [
            (int(rng.integers(1, NUM_CATEGORIES + 1)), _random_mask(rng))
            for _ in range(rng.integers(1, 6))
        ]
        for category_id, mask in objects:
            rle, bbox, area = _encode(mask)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "segmentation": rle,
                    "bbox": bbox,
                    "area": area,
                    "iscrowd": 0,
                }
            )
        for k in range(detections_per_image):
            if (
                k < len(objects) * 2
            ):  # two jittered guesses per object, one possibly of the wrong class
                category_id, mask = objects[k // 2]
                mask = _shifted(mask, rng)
                if k % 2:
                    category_id = int(rng.integers(1, NUM_CATEGORIES + 1))
            else:
                category_id, mask = int(rng.integers(1, NUM_CATEGORIES + 1)), _random_mask(rng)
            rle, bbox, _ = _encode(mask)
            results.append(
                {
                    "image_id": image_id,
                    "category_id": category_id,
                    "segmentation": rle,
                    "bbox": bbox,
                    "score": float(rng.random()),
                }
            )
    categories = [{"id": k, "name": f"class{k}"} for k in range(1, NUM_CATEGORIES + 1)]
    return {"images": images, "annotations": annotations, "categories": categories}, results


def _coco(dataset):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
    return coco


def _seg_d2(coco_gt, results, iou_type):
    return _evaluate_predictions_on_coco(coco_gt, results, iou_type, use_fast_impl=True).stats


def _pycocotools(coco_gt, results, iou_type):
    if iou_type == "segm":  # as detectron2 does, so that area ranges use mask areas
        results = [{key: value for key, value in r.items() if key != "bbox"} for r in results]
    coco_eval = COCOeval(coco_gt, coco_gt.loadRes(results), iou_type)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval.stats


SYSTEMS = {"seg_d2 (COCOEvaluator path)": _seg_d2, "pycocotools COCOeval": _pycocotools}


def run(system, dataset, results, iou_type, repeat):
    coco_gt = _coco(dataset)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        stats = SYSTEMS[system](coco_gt, results, iou_type)
    return {
        "system": system,
        "iou_type": iou_type,
        "repeat": repeat,
        "seconds": time.perf_counter() - start,
        "AP": float(stats[0] * 100),
        "stats": [float(v) for v in stats],
    }


def table(runs):
    rows = []
    ours, theirs = SYSTEMS
    for iou_type in ("bbox", "segm"):
        mine = [run for run in runs if run["iou_type"] == iou_type]
        for system in SYSTEMS:
            rows.append(
                [
                    iou_type,
                    system,
                    len([r for r in mine if r["system"] == system]),
                    f"{median(mine, system, 'AP'):.3f}",
                    f"{median(mine, system, 'seconds'):.2f}",
                ]
            )
        rows.append(
            [
                iou_type,
                "speed-up seg_d2 vs pycocotools",
                "",
                "",
                f"{median(mine, theirs, 'seconds') / median(mine, ours, 'seconds'):.1f}x",
            ]
        )
    return tabulate(
        rows, headers=["IoU type", "evaluator", "repeats", "AP", "median s"], tablefmt="github"
    )


def check_agreement(runs):
    """Largest absolute difference between the two paths' 12 COCO numbers (0..1 scale);
    raises if it exceeds AP_TOLERANCE."""
    ours, theirs = SYSTEMS
    worst = 0.0
    for iou_type in ("bbox", "segm"):
        a = next(r["stats"] for r in runs if r["iou_type"] == iou_type and r["system"] == ours)
        b = next(r["stats"] for r in runs if r["iou_type"] == iou_type and r["system"] == theirs)
        worst = max(worst, float(np.max(np.abs(np.subtract(a, b)))))
    if worst > AP_TOLERANCE:
        raise AssertionError(
            f"seg_d2's COCO numbers differ from pycocotools' by {worst:g} (> {AP_TOLERANCE:g})"
        )
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--detections", type=int, default=20, help="detections per image")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--name", default="coco_evaluation", help="file name under benchmarks/results/"
    )
    args = parser.parse_args(argv)
    dataset, results = synthetic_coco(args.images, args.detections)
    runs = []
    for repeat in range(args.repeats):
        for iou_type in ("bbox", "segm"):
            for system in SYSTEMS:
                runs.append(run(system, dataset, results, iou_type, repeat))
                print({key: value for key, value in runs[-1].items() if key != "stats"}, flush=True)
    difference = check_agreement(runs)
    text = table(runs)
    print(text)
    return write_results(
        args.name,
        "COCO evaluation: seg_d2's path vs pycocotools",
        f"{args.images} synthetic {IMAGE_SIZE}x{IMAGE_SIZE} images, {len(dataset['annotations'])} "
        "instances, "
        f"{len(results)} detections ({args.detections} per image); {args.repeats} repeats "
        "alternating the two; "
        f"largest difference in the 12 COCO numbers: {difference:.1e}. Times include loadRes, "
        "evaluate, "
        "accumulate and summarize.",
        text,
        {"args": vars(args), "max_stat_difference": difference, "runs": runs},
    )


if __name__ == "__main__":
    main()
