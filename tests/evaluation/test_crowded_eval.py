"""Crowded images: COCO evaluation counts as many detections per image as the model
makes (TEST.DETECTIONS_PER_IMAGE), so ground truth given as predictions scores AP 100."""

import json

from seg_d2.config import get_cfg
from seg_d2.data import register_coco_dataset
from seg_d2.data.masks import mask_to_rle, segmentation_to_mask
from seg_d2.engine import Trainer

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.structures import Boxes, Instances
from helpers import unregister
from PIL import Image

SIZE, CELL = 160, 10  # a 16x16 grid: 256 instances in one image


@pytest.fixture
def crowded(tmp_path):
    Image.fromarray(np.zeros((SIZE, SIZE, 3), np.uint8)).save(tmp_path / "crowded.png")
    annotations = []
    for row in range(SIZE // CELL):
        for col in range(SIZE // CELL):
            mask = np.zeros((SIZE, SIZE), np.uint8)
            mask[row * CELL + 1 : row * CELL + CELL - 1, col * CELL + 1 : col * CELL + CELL - 1] = 1
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": 1,
                    "category_id": 1,
                    "iscrowd": 0,
                    "segmentation": mask_to_rle(mask),
                    "area": int(mask.sum()),
                    "bbox": [col * CELL + 1, row * CELL + 1, CELL - 2, CELL - 2],
                }
            )
    dataset = {
        "images": [{"id": 1, "file_name": "crowded.png", "height": SIZE, "width": SIZE}],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "cell"}],
    }
    (tmp_path / "crowded.json").write_text(json.dumps(dataset))
    register_coco_dataset("crowded", tmp_path / "crowded.json", tmp_path)
    yield "crowded"
    unregister("crowded")


def _ground_truth_as_predictions(record):
    masks = np.stack(
        [segmentation_to_mask(a["segmentation"], SIZE, SIZE) for a in record["annotations"]]
    )
    boxes = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in record["annotations"])]
    instances = Instances(
        (SIZE, SIZE),
        pred_boxes=Boxes(torch.tensor(boxes, dtype=torch.float32)),
        scores=torch.linspace(1.0, 0.5, len(boxes)),
        pred_classes=torch.zeros(len(boxes), dtype=torch.int64),
        pred_masks=torch.from_numpy(masks).bool(),
    )
    return {"instances": instances}


def _evaluate(dataset, detections_per_image, fast, tmp_path):
    cfg = get_cfg()
    cfg.TEST.DETECTIONS_PER_IMAGE = detections_per_image
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    (evaluator,) = Trainer.build_evaluator(cfg, dataset)._evaluators
    evaluator._use_fast_impl = fast
    evaluator.reset()
    (record,) = DatasetCatalog.get(dataset)
    evaluator.process([record], [_ground_truth_as_predictions(record)])
    return evaluator.evaluate()


@pytest.mark.parametrize("fast", [True, False], ids=["faster-coco-eval", "pycocotools"])
def test_ground_truth_as_predictions_scores_100_on_an_image_of_256_instances(
    crowded, fast, tmp_path
):
    results = _evaluate(crowded, 400, fast, tmp_path)
    assert results["segm"]["AP"] == pytest.approx(100.0)
    assert results["bbox"]["AP"] == pytest.approx(100.0)


def test_fewer_detections_per_image_than_instances_lowers_ap(crowded, tmp_path):
    results = _evaluate(crowded, 100, True, tmp_path)
    assert results["segm"]["AP"] < 50
