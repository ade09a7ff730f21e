"""A model's output as files: COCO records in the dataset's category ids, label maps,
panoptic segments."""

from seg_d2.engine import coco_records, panoptic_segments, semantic_labels

import numpy as np
import pytest
import torch
from detectron2.data import Metadata
from detectron2.structures import Boxes, Instances


def _instances(classes):
    count = len(classes)
    return Instances(
        (4, 4),
        pred_boxes=Boxes(torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]])[:count]),
        scores=torch.tensor([0.9, 0.4])[:count],
        pred_classes=torch.tensor(classes),
        pred_masks=torch.zeros(count, 4, 4, dtype=torch.bool),
    )


def test_coco_records_carry_the_datasets_category_ids():
    metadata = Metadata(thing_dataset_id_to_contiguous_id={7: 0, 3: 1})
    records = coco_records({"instances": _instances([0, 1])}, 12, metadata)
    assert [(r["image_id"], r["category_id"], r["score"]) for r in records] == [
        (12, 7, pytest.approx(0.9)),
        (12, 3, pytest.approx(0.4)),
    ]
    assert set(records[0]) == {"image_id", "category_id", "bbox", "score", "segmentation"}


def test_a_class_without_a_dataset_id_keeps_its_own():
    metadata = Metadata(thing_dataset_id_to_contiguous_id={7: 0})
    records = coco_records({"instances": _instances([0, 1])}, 1, metadata)
    assert [r["category_id"] for r in records] == [7, 1]


def test_semantic_labels_are_the_argmax_as_bytes():
    scores = torch.zeros(3, 2, 2)
    scores[2, 0, 1] = scores[1, 1, 0] = 1.0
    labels = semantic_labels({"sem_seg": scores})
    assert labels.dtype == np.uint8 and labels.tolist() == [[0, 2], [1, 0]]


def test_panoptic_segments_are_an_array_of_ids_and_the_segments_as_given():
    ids = torch.tensor([[0, 1], [2, 2]], dtype=torch.int32)
    segments = [{"id": 1, "category_id": 0, "isthing": True}]
    array, info = panoptic_segments({"panoptic_seg": (ids, segments)})
    assert isinstance(array, np.ndarray) and array.tolist() == [[0, 1], [2, 2]]
    assert info is segments
