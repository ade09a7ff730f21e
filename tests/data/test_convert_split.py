"""Splitting a COCO JSON into training and validation parts (seg_d2.data.convert.split)."""

import json

from seg_d2.data.convert import (
    from_mask_folders,
    split_coco_json,
)

import numpy as np
import pytest
from convert_samples import _image, _mask_folders, _masks, _save


def _coco_of(tmp_path, num_images):
    dataset = {
        "images": [
            {"id": i, "file_name": f"{i}.png", "height": 4, "width": 4}
            for i in range(1, num_images + 1)
        ],
        "annotations": [],
        "categories": [{"id": 1, "name": "x"}],
    }
    path = tmp_path / "all.json"
    path.write_text(json.dumps(dataset))
    return str(path)


def _val_ids(json_file):
    train, val = split_coco_json(*json_file)
    with open(val) as f:
        return sorted(image["id"] for image in json.load(f)["images"])


def test_split_puts_every_image_in_one_part(tmp_path):
    _mask_folders(tmp_path / "data")
    for sample in "cdefgh":
        _image(tmp_path / "data" / sample / "images" / f"{sample}.png")
        _save(
            str(tmp_path / "data" / sample / "masks" / "0.png"), _masks()[1].astype(np.uint8) * 255
        )
    from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "all.json"))
    train, val = split_coco_json(str(tmp_path / "all.json"), 0.25, seed=0)
    parts = [json.loads(open(path).read()) for path in (train, val)]
    ids = [{image["id"] for image in part["images"]} for part in parts]
    assert len(ids[1]) == 2 and not ids[0] & ids[1] and len(ids[0] | ids[1]) == 8
    for part, part_ids in zip(parts, ids):
        assert {a["image_id"] for a in part["annotations"]} <= part_ids


def test_split_keeps_one_image_each_side_at_least_and_depends_on_the_seed(tmp_path):
    two = _coco_of(tmp_path, 2)
    assert len(_val_ids((two, 0.1, 0))) == 1  # 0.2 images round to none: one still
    for fraction in (0, 1):
        with pytest.raises(ValueError) as error:
            split_coco_json(two, fraction)
        assert str(error.value) == (
            f"the validation fraction must be between 0 and 1, not {fraction}"
        )
    (tmp_path / "one").mkdir()
    one = _coco_of(tmp_path / "one", 1)
    with pytest.raises(ValueError) as error:
        split_coco_json(one, 0.5)
    assert str(error.value) == f"{one}: 1 image(s) are too few to split"
    many = _coco_of(tmp_path, 40)
    assert _val_ids((many, 0.25, 0)) == _val_ids((many, 0.25, 0))
    assert _val_ids((many, 0.25, 0)) != _val_ids((many, 0.25, 1))
