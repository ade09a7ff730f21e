"""Mask layouts as published: label files named like their image with a suffix
(PennFudan's ``PedMasks/FudanPed00001_mask.png``) pair by one command, saying which rule
paired them; folders that do not pair at all are one error."""

import json
import logging

from seg_d2.cli import main

import numpy as np
import pytest
from PIL import Image


def _pennfudan(root):
    """PennFudan's layout: PNGImages/<name>.png, PedMasks/<name>_mask.png (instance ids)."""
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for index, people in ((1, 2), (2, 1)):
        name = f"FudanPed{index:05d}"
        Image.new("RGB", (60, 40), (90, 90, 90)).save(root / "PNGImages" / f"{name}.png")
        ids = np.zeros((40, 60), np.uint8)
        for person in range(1, people + 1):
            ids[5:35, 20 * person - 15 : 20 * person] = person
        Image.fromarray(ids).save(root / "PedMasks" / f"{name}_mask.png")


def test_pennfudan_as_published_converts_with_one_command(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    _pennfudan(tmp_path)
    output = tmp_path / "pennfudan.json"
    status = main(
        ["convert", "instance-png", str(tmp_path / "PNGImages"), str(tmp_path / "PedMasks")]
        + ["--category", "person", "--output", str(output)]
    )
    assert status == 0
    dataset = json.loads(output.read_text())
    assert [image["file_name"] for image in dataset["images"]] == [
        "FudanPed00001.png",
        "FudanPed00002.png",
    ]
    assert len(dataset["annotations"]) == 3
    assert [c["name"] for c in dataset["categories"]] == ["person"]
    assert "instance PNG files matched to their images by name with '_mask' removed" in (
        caplog.text
    )


def test_folders_that_do_not_pair_at_all_are_one_error(tmp_path):
    _pennfudan(tmp_path)
    for path in (tmp_path / "PedMasks").iterdir():
        path.rename(path.with_name(path.name.replace("FudanPed", "Other")))
    with pytest.raises(SystemExit) as ended:
        main(
            ["convert", "instance-png", str(tmp_path / "PNGImages"), str(tmp_path / "PedMasks")]
            + ["--output", str(tmp_path / "out.json")]
        )
    assert ended.value.code == (
        "error: 1 problem(s) in the input; nothing was written:\n"
        f"  no image in {tmp_path / 'PNGImages'} has its instance PNG in "
        f"{tmp_path / 'PedMasks'} by name (images such as FudanPed00001.png, instance PNGs such "
        "as Other00001_mask.png): are these the right folders?"
    )
    assert not (tmp_path / "out.json").exists()
