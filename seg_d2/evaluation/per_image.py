"""Scores of one image, for its pictures: the mask AP of pycocotools' COCOeval and, from
the same evaluation's matches, the predictions it counts as false positives and the
ground truth it counts as missed, so that an error panel shows what its AP counts (a
prediction over a crowd region is ignored, not an error); the mean IoU of a label map."""

import contextlib
import io
from typing import NamedTuple

import numpy as np
from detectron2.evaluation.coco_evaluation import instances_to_coco_json
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..data.categories import thing_dataset_ids

__all__ = ["MaskEvaluation", "coco_ground_truth", "evaluate_image_masks", "image_miou"]


def coco_ground_truth(json_file):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(json_file)


class MaskEvaluation(NamedTuple):
    """``ap``: mask AP (0-100), NaN when the image has no ground truth;
    ``false_positives``: indices of the predictions scored at least the threshold that match
    no ground truth at the IoU threshold; ``missed``: ids of the ground-truth annotations
    that no such prediction matches."""

    ap: float
    false_positives: list
    missed: list


def _coco_eval(coco_gt, detections, image_id):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(detections), "segm")
        coco_eval.params.imgIds = [image_id]
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval


def evaluate_image_masks(
    coco_gt, instances, image_id, metadata, score_threshold=0.5, iou_threshold=0.5
):
    """COCOeval of one image's predicted ``instances`` (any order), matches read at
    ``iou_threshold`` over all areas; a ground truth matched only by predictions under
    ``score_threshold`` (not drawn) counts as missed."""
    truth = coco_gt.getAnnIds(imgIds=[image_id], iscrowd=False)
    instances = instances.to("cpu")
    detections = instances_to_coco_json(instances, image_id)
    dataset_id = thing_dataset_ids(metadata)
    for detection in detections:
        detection["category_id"] = dataset_id[detection["category_id"]]
    if not detections:
        return MaskEvaluation(float("nan") if not truth else 0.0, [], truth)
    coco_eval = _coco_eval(coco_gt, detections, image_id)
    ap = 100 * max(coco_eval.stats[0], 0.0) if truth else float("nan")
    params = coco_eval.params
    threshold = int(np.argmin(np.abs(params.iouThrs - iou_threshold)))
    shown = (instances.scores >= score_threshold).tolist()
    false_positives, matched = [], set()
    for per_category in coco_eval.evalImgs:
        if per_category is None or per_category["aRng"] != params.areaRng[0]:
            continue
        for detection_id, match, ignored in zip(
            per_category["dtIds"],
            per_category["dtMatches"][threshold],
            per_category["dtIgnore"][threshold],
        ):
            index = detection_id - 1  # loadRes numbers the detections from 1, in order
            if not shown[index]:
                continue
            if match:
                matched.add(int(match))
            elif not ignored:
                false_positives.append(index)
    return MaskEvaluation(ap, sorted(false_positives), [g for g in truth if g not in matched])


def image_miou(truth, prediction, num_classes, ignore_label=255):
    """Mean IoU over the classes in the ground truth or the prediction of one image."""
    valid = truth != ignore_label
    ious = []
    for c in range(num_classes):
        t, p = (truth == c) & valid, (prediction == c) & valid
        union = (t | p).sum()
        if union:
            ious.append((t & p).sum() / union)
    return 100 * float(np.mean(ious)) if ious else float("nan")
