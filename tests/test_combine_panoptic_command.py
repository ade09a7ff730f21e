"""The combine-panoptic command (seg_d2/commands/combine_panoptic.py) in this process: an
instance and a semantic model joined, evaluated with COCO AP, mIoU and PQ."""

import json
import os
from collections import Counter

from seg_d2.commands import combine_panoptic

import pytest
from helpers import REPO


def _command(*extra):
    return [
        "--instance-config",
        os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
        "--instance-weights",
        "",
        "--semantic-config",
        os.path.join(REPO, "configs/shapes/unet.yaml"),
        "--semantic-weights",
        "",  # the config's own: random weights, enough for the plumbing
        *extra,
        "MODEL.DEVICE",
        "cpu",
        "INPUT.MIN_SIZE_TEST",
        "64",
        "TEST.DETECTIONS_PER_IMAGE",
        "1",
    ]


def test_combine_panoptic_evaluates_the_joined_models_and_writes_their_results(
    tiny_val, tmp_path, capsys
):
    output_dir = tmp_path / "posthoc"
    results = combine_panoptic.main(
        _command("--dataset", f"{tiny_val}_panoptic_separated", "--output-dir", str(output_dir))
    )
    assert {"bbox", "segm", "sem_seg", "panoptic_seg"} <= set(results)
    saved = json.loads((output_dir / "results.json").read_text())  # NaN written as null
    assert set(saved) == set(results)
    assert saved["panoptic_seg"]["PQ"] == results["panoptic_seg"]["PQ"]
    printed = capsys.readouterr().out
    assert json.dumps(results, indent=2) in printed
    assert f"results written to {output_dir / 'results.json'}" in printed
    # the evaluators write into the output folder; the KEY VALUE pairs reach the model
    detections = json.loads((output_dir / "coco_instances_results.json").read_text())
    per_image = Counter(detection["image_id"] for detection in detections)
    assert max(per_image.values(), default=0) <= 1


def test_the_default_dataset_and_output_folder(tiny_val, monkeypatch):
    from seg_d2.engine import Trainer

    asked = []

    class Asked(Exception):
        """Raised once the evaluator is asked for: the defaults are all this test needs."""

    def build_evaluator(cfg, dataset, output_folder=None):
        asked.append((dataset, output_folder))
        raise Asked

    monkeypatch.setattr(Trainer, "build_evaluator", build_evaluator)
    with pytest.raises(Asked):
        combine_panoptic.main(_command())
    assert asked == [("shapes_val_panoptic_separated", "output/shapes/posthoc_panoptic")]
