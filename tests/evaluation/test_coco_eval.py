"""The COCO evaluator detectron2 uses here gives pycocotools' numbers exactly."""

from seg_d2 import compat

import numpy as np
import pytest
from detectron2.evaluation import coco_evaluation
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def _rle(mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _synthetic(num_images=30, size=64, seed=0):
    """Ground truth boxes/masks and noisy, partly wrong detections of them."""
    rng = np.random.default_rng(seed)
    images, annotations, detections = [], [], []
    for image_id in range(1, num_images + 1):
        images.append(
            {"id": image_id, "width": size, "height": size, "file_name": f"{image_id}.png"}
        )
        for _ in range(rng.integers(1, 5)):
            x, y = rng.integers(0, size - 20, 2)
            w, h = rng.integers(6, 20, 2)
            mask = np.zeros((size, size), bool)
            mask[y : y + h, x : x + w] = True
            category = int(rng.integers(1, 4))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "iscrowd": int(rng.random() < 0.05),
                    "area": int(mask.sum()),
                    "bbox": [int(x), int(y), int(w), int(h)],
                    "segmentation": _rle(mask),
                }
            )
            for _ in range(rng.integers(0, 3)):
                dx, dy = rng.integers(-4, 5, 2)
                shifted = np.roll(mask, (dy, dx), axis=(0, 1))
                detections.append(
                    {
                        "image_id": image_id,
                        "score": float(rng.random()),
                        "category_id": category if rng.random() < 0.8 else int(rng.integers(1, 4)),
                        "bbox": [int(x + dx), int(y + dy), int(w), int(h)],
                        "segmentation": _rle(shifted),
                    }
                )
    categories = [{"id": i, "name": f"c{i}"} for i in (1, 2, 3)]
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations, "categories": categories}
    gt.createIndex()
    return gt, detections


def _evaluate(evaluator_class, gt, detections, iou_type):
    evaluator = evaluator_class(gt, gt.loadRes(detections), iou_type)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_fast_evaluator_matches_pycocotools(iou_type):
    gt, detections = _synthetic()
    reference = _evaluate(COCOeval, gt, detections, iou_type)
    fast = _evaluate(coco_evaluation.COCOeval_opt, gt, detections, iou_type)
    assert reference.stats[0] > 0.05
    np.testing.assert_allclose(fast.stats, reference.stats, atol=1e-6)
    np.testing.assert_allclose(fast.eval["precision"], reference.eval["precision"], atol=1e-6)


def test_without_compiled_ops_faster_coco_eval_is_used():
    if compat.HAS_COMPILED_OPS:
        assert coco_evaluation.COCOeval_opt.__module__.startswith("detectron2")
    else:
        assert coco_evaluation.COCOeval_opt.__module__.startswith("faster_coco_eval")
