"""One image's scores for its pictures: mask AP and the errors from the same COCOeval
(so the error panel shows what the AP counts), and mIoU."""

import json
import math
import warnings

from seg_d2.evaluation.per_image import coco_ground_truth, evaluate_image_masks, image_miou

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from detectron2.data import Metadata
from detectron2.structures import BitMasks, Instances
from pycocotools.coco import COCO

H, W = 40, 60


def _box(top, left, bottom, right):
    mask = np.zeros((H, W), bool)
    mask[top:bottom, left:right] = True
    return mask


def _rle(mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(rle, counts=rle["counts"].decode())


def _coco(annotations):
    """A COCO index of one image (id 7) with ``annotations``: (mask, category id, crowd)."""
    coco = COCO()
    coco.dataset = {
        "images": [{"id": 7, "height": H, "width": W, "file_name": "a.png"}],
        "categories": [{"id": 3, "name": "cell"}, {"id": 5, "name": "dot"}],
        "annotations": [
            {
                "id": k + 1,
                "image_id": 7,
                "category_id": category,
                "iscrowd": int(crowd),
                "segmentation": _rle(mask),
                "area": float(mask.sum()),
                "bbox": list(mask_util.toBbox(_rle(mask))),
            }
            for k, (mask, category, crowd) in enumerate(annotations)
        ],
    }
    coco.createIndex()
    return coco


METADATA = Metadata(thing_classes=["cell", "dot"], thing_dataset_id_to_contiguous_id={3: 0, 5: 1})


def _instances(masks, classes, scores):
    instances = Instances((H, W))
    instances.pred_masks = torch.from_numpy(np.stack(masks))
    instances.pred_boxes = BitMasks(instances.pred_masks).get_bounding_boxes()
    instances.pred_classes = torch.tensor(classes)
    instances.scores = torch.tensor(scores)
    return instances


CELL, OTHER_CELL, CROWD = _box(2, 2, 12, 12), _box(20, 30, 35, 50), _box(25, 2, 38, 20)


def test_perfect_predictions_score_100_with_no_errors_and_a_missing_one_is_named():
    coco = _coco([(CELL, 3, False), (OTHER_CELL, 3, False)])
    perfect = _instances([CELL, OTHER_CELL], [0, 0], [0.9, 0.8])
    evaluation = evaluate_image_masks(coco, perfect, 7, METADATA)
    assert evaluation.ap == pytest.approx(100.0)
    assert (evaluation.false_positives, evaluation.missed) == ([], [])
    one = evaluate_image_masks(coco, perfect[:1], 7, METADATA)
    assert one.ap < 100.0 and one.missed == [2] and one.false_positives == []


def test_errors_are_cocoevals_matches_a_prediction_on_a_crowd_region_is_no_error():
    """A greedy matcher of the non-crowd masks calls the prediction over the crowd region a
    false positive; COCOeval ignores it, and so does the error panel."""
    coco = _coco([(CELL, 3, False), (CROWD, 3, True)])
    predicted = _instances([CELL, CROWD], [0, 0], [0.9, 0.8])
    evaluation = evaluate_image_masks(coco, predicted, 7, METADATA)
    assert evaluation.ap == pytest.approx(100.0)
    assert (evaluation.false_positives, evaluation.missed) == ([], [])


def test_a_duplicate_a_wrong_class_and_a_low_score_match_are_told_apart():
    coco = _coco([(CELL, 3, False), (OTHER_CELL, 5, False)])
    # in any order: a duplicate of CELL (lower score), CELL, OTHER_CELL as the wrong class,
    # and OTHER_CELL as its class under the score threshold (not drawn)
    predicted = _instances([CELL, CELL, OTHER_CELL, OTHER_CELL], [0, 0, 0, 1], [0.6, 0.9, 0.7, 0.3])
    evaluation = evaluate_image_masks(coco, predicted, 7, METADATA, score_threshold=0.5)
    assert evaluation.false_positives == [0, 2]
    assert evaluation.missed == [2]  # matched only by a prediction under the threshold
    shown_all = evaluate_image_masks(coco, predicted, 7, METADATA, score_threshold=0.0)
    assert shown_all.missed == [] and shown_all.ap == evaluation.ap


def test_the_iou_threshold_decides_a_match():
    coco = _coco([(CELL, 3, False)])
    smaller = _box(2, 2, 12, 8)  # IoU 0.6 with CELL
    predicted = _instances([smaller], [0], [0.9])
    evaluation = evaluate_image_masks(coco, predicted, 7, METADATA)
    assert evaluation.false_positives == []
    # the AP over IoU 0.5:0.95 (matched at 0.5, 0.55 and 0.6 of ten), not AP50's 100
    assert evaluation.ap == pytest.approx(30.0)
    strict = evaluate_image_masks(coco, predicted, 7, METADATA, iou_threshold=0.75)
    assert (strict.false_positives, strict.missed) == ([0], [1])


def test_no_predictions_or_no_ground_truth():
    coco = _coco([(CELL, 3, False)])
    none = evaluate_image_masks(coco, _instances([CELL], [0], [0.9])[:0], 7, METADATA)
    assert (none.ap, none.false_positives, none.missed) == (0.0, [], [1])
    empty = _coco([])
    only_predictions = evaluate_image_masks(empty, _instances([CELL], [0], [0.9]), 7, METADATA)
    assert math.isnan(only_predictions.ap) and only_predictions.false_positives == [0]
    nothing = evaluate_image_masks(empty, _instances([CELL], [0], [0.9])[:0], 7, METADATA)
    assert math.isnan(nothing.ap) and (nothing.false_positives, nothing.missed) == ([], [])


def test_a_prediction_scored_exactly_the_threshold_is_drawn_and_counted():
    coco = _coco([(CELL, 3, False)])
    at_threshold = _instances([CELL, OTHER_CELL], [0, 0], [0.9, 0.5])
    evaluation = evaluate_image_masks(coco, at_threshold, 7, METADATA, score_threshold=0.5)
    assert evaluation.false_positives == [1]


def test_errors_are_read_over_all_areas_each_once():
    """COCOeval scores each image again per area range (small, medium, large; their bounds
    inclusive, so a 32x32 mask is both small and medium): a false positive is counted once,
    whatever its size."""
    coco = _coco([(CELL, 3, False)])
    for mask in (_box(4, 20, 36, 52), _box(0, 18, 40, 58)):  # 1024 and 1600 pixels
        predicted = _instances([CELL, mask], [0, 0], [0.9, 0.8])
        assert evaluate_image_masks(coco, predicted, 7, METADATA).false_positives == [1]


def test_only_this_images_non_crowd_ground_truth_can_be_missed():
    coco = _coco([(CELL, 3, False), (CROWD, 3, True)])
    coco.dataset["images"].append({"id": 8, "height": H, "width": W, "file_name": "b.png"})
    coco.dataset["annotations"].append({**coco.dataset["annotations"][0], "id": 9, "image_id": 8})
    coco.createIndex()
    none = evaluate_image_masks(coco, _instances([CELL], [0], [0.9])[:0], 7, METADATA)
    assert none.missed == [1]
    other = evaluate_image_masks(coco, _instances([OTHER_CELL], [0], [0.9]), 7, METADATA)
    assert other.missed == [1]


def test_the_predictions_are_read_on_the_cpu():
    moved = []

    class Recorded(Instances):
        def to(self, *args, **kwargs):
            moved.append(args)
            return super().to(*args, **kwargs)

    coco = _coco([(CELL, 3, False)])
    predicted = _instances([CELL], [0], [0.9])
    recorded = Recorded(predicted.image_size, **predicted.get_fields())
    evaluate_image_masks(coco, recorded, 7, METADATA)
    assert moved == [("cpu",)]


def test_the_scores_print_nothing(tmp_path, capsys):
    coco = _coco([(CELL, 3, False)])
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(coco.dataset))
    capsys.readouterr()  # the test's own index
    loaded = coco_ground_truth(str(path))
    assert loaded.getAnnIds(imgIds=[7]) == [1]
    evaluate_image_masks(loaded, _instances([CELL], [0], [0.9]), 7, METADATA)
    assert capsys.readouterr().out == ""


def test_image_miou_counts_each_class_over_the_pixels_not_ignored():
    truth = np.array([[0, 0], [0, 1]])
    assert image_miou(truth, truth.copy(), 2) == pytest.approx(100.0)
    assert image_miou(np.array([[0, 1], [1, 255]]), np.array([[0, 1], [0, 1]]), 2) == (
        pytest.approx(100 * (1 / 2 + 1 / 2) / 2)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mean of nothing on the way
        assert math.isnan(image_miou(np.full((2, 2), 255), np.zeros((2, 2), int), 2))
