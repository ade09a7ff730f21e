"""The combine-panoptic command (seg_d2/commands/combine_panoptic.py) in this process: an
instance and a semantic model joined, evaluated with COCO AP, mIoU and PQ."""

import json
import os

from seg_d2.commands import combine_panoptic

from helpers import REPO


def test_combine_panoptic_evaluates_the_joined_models_and_writes_their_results(
    tiny_val, tmp_path, capsys
):
    output_dir = tmp_path / "posthoc"
    results = combine_panoptic.main(
        [
            "--instance-config",
            os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
            "--instance-weights",
            "",  # the config's own: random weights, enough for the plumbing
            "--semantic-config",
            os.path.join(REPO, "configs/shapes/unet.yaml"),
            "--semantic-weights",
            "",
            "--dataset",
            f"{tiny_val}_panoptic_separated",
            "--output-dir",
            str(output_dir),
            "MODEL.DEVICE",
            "cpu",
            "INPUT.MIN_SIZE_TEST",
            "64",
        ]
    )
    assert {"bbox", "segm", "sem_seg", "panoptic_seg"} <= set(results)
    saved = json.loads((output_dir / "results.json").read_text())  # NaN written as null
    assert set(saved) == set(results)
    assert saved["panoptic_seg"]["PQ"] == results["panoptic_seg"]["PQ"]
    assert f"results written to {output_dir / 'results.json'}" in capsys.readouterr().out
