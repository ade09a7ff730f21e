"""labelme and VIA files from elsewhere: every malformed shape or region is named with
its file and index, and coordinate lists that do not pair up are refused, not cut."""

import json
import re

from seg_d2.data.convert import from_labelme, from_via

import pytest
from PIL import Image

H, W = 32, 48
GOOD_POLYGON = {"label": "cell", "points": [[2, 2], [10, 2], [10, 10]], "shape_type": "polygon"}

LABELME_MISTAKES = {
    "rectangle_of_3_points": (
        {"label": "cell", "points": [[1, 1], [5, 5], [9, 9]], "shape_type": "rectangle"},
        r"shape\(s\) \[1\] \('cell'\): a rectangle has 2 points, not 3",
    ),
    "circle_of_1_point": (
        {"label": "cell", "points": [[5, 5]], "shape_type": "circle"},
        r"shape\(s\) \[1\] \('cell'\): a circle \(centre, a point on it\) has 2 points, not 1",
    ),
    "null_label": (
        {"label": None, "points": [[1, 1], [5, 1], [5, 5]], "shape_type": "polygon"},
        r"shape 1: 'label' must be a name, not None",
    ),
    "bad_base64_mask": (
        {"label": "cell", "points": [[0, 0], [4, 4]], "shape_type": "mask", "mask": "not*base64"},
        r"shape\(s\) \[1\] \('cell'\): its 'mask' is not a base64 PNG",
    ),
    "text_coordinate": (
        {"label": "cell", "points": [["x30", 1], [5, 1], [5, 5]], "shape_type": "polygon"},
        r"shape\(s\) \[1\] \('cell'\): polygon coordinate must be a finite number, not 'x30'",
    ),
    "points_not_pairs": (
        {"label": "cell", "points": [1, 2, 3, 4, 5, 6], "shape_type": "polygon"},
        r"polygon points must be a list of \[x, y\] pairs",
    ),
}


@pytest.mark.parametrize("case", sorted(LABELME_MISTAKES))
def test_each_malformed_labelme_shape_is_named_and_the_good_ones_kept(tmp_path, case):
    shape, message = LABELME_MISTAKES[case]
    Image.new("RGB", (W, H)).save(tmp_path / "x.png")
    json_file = tmp_path / "x.json"
    json_file.write_text(json.dumps({"imagePath": "x.png", "shapes": [GOOD_POLYGON, shape]}))
    builder = from_labelme(str(tmp_path))
    assert len(builder.errors) == 1
    assert builder.errors[0].startswith(f"{json_file}: ")
    assert re.search(message, builder.errors[0]), builder.errors
    assert len(builder.annotations) == 1  # the good polygon


def _region(shape_attributes):
    return {"shape_attributes": shape_attributes, "region_attributes": {}}


VIA_MISTAKES = {
    "no_shape_attributes": ({"region_attributes": {}}, "the region has no 'shape_attributes'"),
    "rect_without_width": (
        _region({"name": "rect", "x": 1, "y": 1, "height": 5}),
        "a rect needs x, y, width, height; width missing",
    ),
    "unpaired_points": (
        _region({"name": "polygon", "all_points_x": [1, 9, 9, 1, 5], "all_points_y": [1, 1, 9]}),
        r"all_points_x has 5 values and all_points_y 3: not \(x, y\) pairs",
    ),
    "text_radius": (
        _region({"name": "circle", "cx": 5, "cy": 5, "r": "big"}),
        "circle r must be a finite number, not 'big'",
    ),
}


@pytest.mark.parametrize("case", sorted(VIA_MISTAKES))
def test_each_malformed_via_region_is_named_and_the_good_ones_kept(tmp_path, case):
    region, message = VIA_MISTAKES[case]
    (tmp_path / "images").mkdir()
    Image.new("RGB", (W, H)).save(tmp_path / "images" / "x.png")
    good = _region({"name": "rect", "x": 1, "y": 1, "width": 8, "height": 6})
    via_json = tmp_path / "via.json"
    via_json.write_text(json.dumps({"x": {"filename": "x.png", "regions": [good, region]}}))
    builder = from_via(str(via_json), str(tmp_path / "images"))
    assert len(builder.errors) == 1
    assert re.search(rf"^{via_json}: 'x' region 1: {message}", builder.errors[0])
    assert len(builder.annotations) == 1  # the good rectangle
