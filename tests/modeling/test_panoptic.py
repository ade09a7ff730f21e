"""Panoptic: the post-hoc combiner on hand-made predictions, and PQ through
COCOPanopticEvaluator on the separated dataset: 100 for the ground truth, equal to
panopticapi's own pq_compute for a shifted prediction."""

import json
import os

from seg_d2.config_setup import setup_config
from seg_d2.modeling import PosthocPanoptic

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import COCOPanopticEvaluator
from detectron2.structures import Instances
from helpers import REPO
from panopticapi.evaluation import pq_compute
from panopticapi.utils import id2rgb, rgb2id
from PIL import Image
from torch import nn

# Shared label space of the hand-made case: things a=0, b=1; stuff sky=2, ground=3, water=4.
A, B, SKY, GROUND, WATER = range(5)
EXPECTED_PANOPTIC = np.array(
    [
        [1, 1, 1, 1, 4, 4, 4, 4, 0, 0],
        [1, 1, 1, 1, 4, 4, 4, 4, 0, 0],  # water (4 px) under STUFF_AREA_LIMIT 5: void
        [1, 1, 1, 1, 4, 4, 4, 4, 4, 4],
        [1, 1, 1, 1, 4, 4, 3, 3, 3, 4],
        [5, 5, 5, 2, 2, 2, 2, 3, 3, 5],  # instance 3 loses the pixels instance 2 holds
        [5, 5, 5, 2, 2, 2, 2, 3, 3, 5],
        [0, 0, 5, 2, 2, 2, 2, 5, 5, 5],  # pixels labelled "thing" with no instance: void
        [0, 0, 5, 2, 2, 2, 2, 5, 5, 5],
    ]
)


class _Fixed(nn.Module):
    """A model that returns fixed outputs and keeps the inputs it was given."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs

    def forward(self, batched_inputs):
        self.seen = batched_inputs
        return self.outputs


def _box_mask(rows, cols):
    mask = torch.zeros(8, 10, dtype=torch.bool)
    mask[rows, cols] = True
    return mask


def test_combiner_on_hand_made_predictions():
    instances = Instances((8, 10))
    instances.pred_masks = torch.stack(
        [
            _box_mask(slice(0, 4), slice(0, 4)),  # kept
            _box_mask(
                slice(1, 4), slice(1, 5)
            ),  # 9 of 12 pixels taken already: over OVERLAP_THRESH, dropped
            _box_mask(slice(4, 8), slice(3, 7)),  # kept
            _box_mask(slice(3, 6), slice(6, 9)),  # 2 of 9 taken: kept, minus those
            _box_mask(slice(0, 2), slice(6, 8)),  # score under INSTANCES_CONFIDENCE_THRESH, dropped
        ]
    )
    instances.scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.3])
    instances.pred_classes = torch.tensor([B, A, A, B, A])
    labels = torch.full((8, 10), SKY)
    labels[4:] = GROUND
    labels[0:2, 8:10] = WATER
    labels[6:8, 0:2] = A
    scores = nn.functional.one_hot(labels, 5).permute(2, 0, 1).float()

    model = PosthocPanoptic(
        _Fixed([{"instances": instances}]),
        _Fixed([{"sem_seg": scores}]),
        num_thing_classes=2,
        overlap_threshold=0.5,
        stuff_area_threshold=5,
        instances_score_threshold=0.5,
    )
    inputs = [{"image": torch.zeros(3, 8, 10)}]
    output = model(inputs)[0]
    assert model.instance_model.seen is inputs and model.semantic_model.seen is inputs
    assert output["instances"] is instances
    panoptic, segments = output["panoptic_seg"]
    np.testing.assert_array_equal(panoptic.numpy(), EXPECTED_PANOPTIC)
    assert [(s["id"], s["isthing"], s["category_id"]) for s in segments] == [
        (1, True, B),
        (2, True, A),
        (3, True, B),
        (4, False, 1),
        (5, False, 2),
    ]
    separated = output["sem_seg"].argmax(0)
    assert (
        separated[0, 0] == 1
        and separated[7, 5] == 2
        and separated[0, 9] == 3
        and separated[7, 0] == 0
    )


def test_the_combiner_takes_classes_and_thresholds_from_the_instance_config():
    cfg = setup_config(
        os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
        [
            "MODEL.PANOPTIC_FPN.COMBINE.OVERLAP_THRESH",
            "0.4",
            "MODEL.PANOPTIC_FPN.COMBINE.STUFF_AREA_LIMIT",
            "77",
            "MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH",
            "0.3",
        ],
    )
    things, stuff = _Fixed([]), _Fixed([])
    model = PosthocPanoptic(cfg, things, stuff)
    assert (model.instance_model, model.semantic_model) == (things, stuff)
    assert (
        model.num_thing_classes,
        model.overlap_threshold,
        model.stuff_area_threshold,
        model.instances_score_threshold,
    ) == (4, 0.4, 77, 0.3)


def _evaluate_against_panopticapi(name, shift, tmp_path):
    """Feed the ground truth, rolled ``shift`` pixels right, to COCOPanopticEvaluator on
    the separated dataset, and the same prediction to panopticapi directly."""
    meta = MetadataCatalog.get(name + "_panoptic_separated")
    full = MetadataCatalog.get(name + "_panoptic")
    thing_dataset_id = {v: k for k, v in full.thing_dataset_id_to_contiguous_id.items()}
    stuff_dataset_id = {v: k for k, v in full.stuff_dataset_id_to_contiguous_id.items()}

    def dataset_id(segment):  # the _panoptic records use the shared thing+stuff indices
        return (thing_dataset_id if segment["isthing"] else stuff_dataset_id)[
            segment["category_id"]
        ]

    evaluator = COCOPanopticEvaluator(
        name + "_panoptic_separated", output_dir=str(tmp_path / "eval")
    )
    evaluator.reset()
    predictions, folder = [], tmp_path / "direct"
    folder.mkdir()
    for record in DatasetCatalog.get(name + "_panoptic"):
        ids = rgb2id(np.asarray(Image.open(record["pan_seg_file_name"])))
        crowd = [s["id"] for s in record["segments_info"] if s["iscrowd"]]
        ids[np.isin(ids, crowd)] = 0
        ids = np.roll(ids, shift, axis=1)
        kept = [s for s in record["segments_info"] if not s["iscrowd"]]
        segments = [
            {
                "id": s["id"],
                "isthing": s["isthing"],
                "category_id": s["category_id"]
                if s["isthing"]
                else meta.stuff_dataset_id_to_contiguous_id[dataset_id(s)],
            }
            for s in kept
        ]
        evaluator.process(
            [{"image_id": record["image_id"], "file_name": record["file_name"]}],
            [{"panoptic_seg": (torch.from_numpy(ids), segments)}],
        )
        png = f"{record['image_id']}.png"
        Image.fromarray(id2rgb(ids)).save(folder / png)
        predictions.append(
            {
                "image_id": record["image_id"],
                "file_name": png,
                "segments_info": [{"id": s["id"], "category_id": dataset_id(s)} for s in kept],
            }
        )
    result = evaluator.evaluate()["panoptic_seg"]
    with open(meta.panoptic_json) as f:
        ground_truth = json.load(f)
    pred_json = tmp_path / "direct.json"
    pred_json.write_text(json.dumps({**ground_truth, "annotations": predictions}))
    direct = pq_compute(meta.panoptic_json, str(pred_json), meta.panoptic_root, str(folder))
    return result, direct


def test_ground_truth_scores_pq_100(tiny_val, tmp_path):
    result, _ = _evaluate_against_panopticapi(tiny_val, 0, tmp_path)
    for key in ("PQ", "SQ", "RQ", "PQ_th", "PQ_st"):
        assert result[key] == pytest.approx(100.0), key


def test_shifted_prediction_scores_what_panopticapi_computes(tiny_val, tmp_path):
    result, direct = _evaluate_against_panopticapi(tiny_val, 3, tmp_path)
    assert result["PQ"] < 95
    for group, suffix in (("All", ""), ("Things", "_th"), ("Stuff", "_st")):
        for metric in ("pq", "sq", "rq"):
            assert result[metric.upper() + suffix] == pytest.approx(
                100 * direct[group][metric], abs=1e-9
            )
