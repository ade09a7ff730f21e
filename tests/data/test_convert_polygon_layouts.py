"""The labelme and VIA converters: polygons, masks, circles and ellipses as COCO
segmentations; every malformed shape or region named with its file and index, and
coordinate lists that do not pair up refused, not cut."""

import base64
import io
import json
import re

from seg_d2.data.convert import (
    from_labelme,
    from_via,
)
from seg_d2.errors import DatasetError

import numpy as np
import pytest
from convert_samples import (
    H,
    W,
    _decoded,
    _image,
    _labelme_folder,
    _masks,
    _png_base64,
    _via_export,
)
from PIL import Image

MALFORMED_SHAPES_SIZE = (48, 32)  # width, height of the image the malformed shapes are on
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
    Image.new("RGB", MALFORMED_SHAPES_SIZE).save(tmp_path / "x.png")
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
    Image.new("RGB", MALFORMED_SHAPES_SIZE).save(tmp_path / "images" / "x.png")
    good = _region({"name": "rect", "x": 1, "y": 1, "width": 8, "height": 6})
    via_json = tmp_path / "via.json"
    via_json.write_text(json.dumps({"x": {"filename": "x.png", "regions": [good, region]}}))
    builder = from_via(str(via_json), str(tmp_path / "images"))
    assert len(builder.errors) == 1
    assert re.search(rf"^{via_json}: 'x' region 1: {message}", builder.errors[0])
    assert len(builder.annotations) == 1  # the good rectangle


def _vertices(segmentation):
    polygon = np.asarray(segmentation[0], float)
    return polygon[0::2], polygon[1::2]


def test_via_regions_become_polygons_and_points_are_counted_skips(tmp_path):
    _via_export(tmp_path)
    builder = from_via(str(tmp_path / "via.json"), str(tmp_path / "images"), class_attribute="kind")
    builder.write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")["x.png"]
    assert [name for name, _ in decoded] == ["box", "box", "disc"]
    assert decoded[0][1].sum() == 18 * 10 and decoded[1][1].sum() == 10 * 8
    assert abs(decoded[2][1].sum() - np.pi * 36) < 15
    assert builder.skips == {"point region has no area": 1}


def test_labelme_groups_polygons_and_decodes_masks(tmp_path):
    _labelme_folder(tmp_path)
    ring = _masks()[0]
    builder = from_labelme(str(tmp_path))
    builder.write(str(tmp_path / "out" / "out.json"))
    decoded = _decoded(tmp_path / "out" / "out.json")["x.png"]
    assert [name for name, _ in decoded] == ["cell", "ring"]
    assert decoded[0][1].sum() == 8 * 8 + 8 * 8  # the two parts of group 1, one instance
    np.testing.assert_array_equal(decoded[1][1].astype(bool), ring)
    assert builder.skips == {"point shape has no area": 1}


def test_ellipses_and_circles_become_polygons_on_the_curve_from_angle_0(tmp_path):
    _image(tmp_path / "images" / "x.png")
    cx, cy, rx, ry, theta = 24.0, 20.0, 12.0, 6.0, 0.5
    regions = [
        {
            "shape_attributes": {
                "name": "ellipse",
                "cx": cx,
                "cy": cy,
                "rx": rx,
                "ry": ry,
                "theta": theta,
            }
        },
        {"shape_attributes": {"name": "ellipse", "cx": cx, "cy": cy, "rx": rx, "ry": ry}},
        {"shape_attributes": {"name": "circle", "cx": cx, "cy": cy, "r": 9.0}},
    ]
    via = {"x.png1": {"filename": "x.png", "regions": regions}}
    (tmp_path / "via.json").write_text(json.dumps(via))
    from_via(str(tmp_path / "via.json"), str(tmp_path / "images")).write(str(tmp_path / "out.json"))
    annotations = json.loads((tmp_path / "out.json").read_text())["annotations"]
    for annotation, (a, b, turn) in zip(
        annotations, [(rx, ry, theta), (rx, ry, 0.0), (9.0, 9.0, 0.0)]
    ):
        xs, ys = _vertices(annotation["segmentation"])
        # into the ellipse's own frame: (a cos t, b sin t) with t = 2 pi k / 32
        u = (xs - cx) * np.cos(turn) + (ys - cy) * np.sin(turn)
        v = -(xs - cx) * np.sin(turn) + (ys - cy) * np.cos(turn)
        np.testing.assert_allclose(u, a * np.cos(2 * np.pi * np.arange(32) / 32), atol=1e-9)
        np.testing.assert_allclose(v, b * np.sin(2 * np.pi * np.arange(32) / 32), atol=1e-9)


def test_labelme_circles_pass_through_their_second_point(tmp_path):
    _image(tmp_path / "x.png")
    shapes = [{"label": "c", "points": [[20, 15], [26, 23]], "shape_type": "circle"}]
    (tmp_path / "x.json").write_text(json.dumps({"imagePath": "x.png", "shapes": shapes}))
    from_labelme(str(tmp_path)).write(str(tmp_path / "out" / "out.json"))
    (annotation,) = json.loads((tmp_path / "out" / "out.json").read_text())["annotations"]
    xs, ys = _vertices(annotation["segmentation"])
    np.testing.assert_allclose(np.hypot(xs - 20, ys - 15), 10.0)
    assert (xs[0], ys[0]) == (30.0, 15.0)


def test_via_projects_with_region_dicts_name_each_region_without_a_class(tmp_path):
    _image(tmp_path / "images" / "x.png")
    box = {"name": "rect", "x": 2, "y": 2, "width": 6, "height": 4}
    regions = {
        "0": {"shape_attributes": box, "region_attributes": {"kind": "box"}},
        "1": {"shape_attributes": box, "region_attributes": {}},
        "2": {"shape_attributes": box, "region_attributes": {"kind": ""}},
    }
    project = {
        "_via_settings": {},
        "_via_img_metadata": {"x.png9": {"filename": "x.png", "regions": regions}},
    }
    (tmp_path / "via.json").write_text(json.dumps(project))
    from_via(str(tmp_path / "via.json"), str(tmp_path / "images")).write(str(tmp_path / "all.json"))
    assert [name for name, _ in _decoded(tmp_path / "all.json")["x.png"]] == ["object"] * 3
    with pytest.raises(DatasetError) as error:
        from_via(
            str(tmp_path / "via.json"), str(tmp_path / "images"), class_attribute="kind"
        ).write(str(tmp_path / "out.json"))
    missing = "region attribute 'kind' is missing or not a name"
    assert str(error.value) == (
        "2 problem(s) in the input; nothing was written:\n"
        f"  {tmp_path / 'via.json'}: 'x.png9' region 1: {missing}\n"
        f"  {tmp_path / 'via.json'}: 'x.png9' region 2: {missing}"
    )


def test_via_skips_are_named_by_file_entry_and_region(tmp_path, caplog):
    _image(tmp_path / "images" / "x.png")
    regions = [
        {"shape_attributes": {"name": "point", "cx": 1, "cy": 1}},
        {"shape_attributes": {"name": "polyline", "all_points_x": [1, 5], "all_points_y": [1, 5]}},
        {"shape_attributes": {"name": "rect", "x": 2, "y": 2, "width": 6, "height": 4}},
        {
            "shape_attributes": {
                "name": "polygon",
                "all_points_x": [1, 5, 9],
                "all_points_y": [1, 5, 9],
            }
        },
    ]
    (tmp_path / "via.json").write_text(
        json.dumps({"x.png9": {"filename": "x.png", "regions": regions}})
    )
    builder = from_via(str(tmp_path / "via.json"), str(tmp_path / "images"))
    builder.write(str(tmp_path / "out.json"))
    assert builder.skips == {
        "point region has no area": 1,
        "polyline region has no area": 1,
        "polygon of zero area": 1,
    }
    assert f"{tmp_path / 'via.json'}: 'x.png9' region 1: polyline region has no area" in caplog.text
    assert f"{tmp_path / 'via.json'}: 'x.png9' region 3: polygon of zero area" in caplog.text
    assert len(_decoded(tmp_path / "out.json")["x.png"]) == 1


def test_labelme_names_files_that_are_not_labelmes_and_keeps_ungrouped_shapes_apart(
    tmp_path, caplog
):
    out, tmp_path = tmp_path / "out", tmp_path / "in"  # the output outside the folder read
    _image(tmp_path / "x.png")
    box = {"label": "cell", "shape_type": "rectangle", "group_id": None}
    shapes = [
        {**box, "points": [[2, 2], [8, 6]]},
        {**box, "points": [[20, 2], [28, 10]]},
        {"label": "cell", "points": [[5, 5]], "shape_type": "point"},
    ]
    (tmp_path / "x.json").write_text(json.dumps({"imagePath": "x.png", "shapes": shapes}))
    builder = from_labelme(str(tmp_path))
    builder.write(str(out / "x.json"))
    assert [m.sum() for _, m in _decoded(out / "x.json")["x.png"]] == [24, 64]
    assert f"{tmp_path / 'x.json'}: shape(s) [2] ('cell'): point shape has no area" in caplog.text
    (tmp_path / "a.json").write_text(json.dumps({"imagePath": "x.png"}))
    (tmp_path / "b.json").write_text(json.dumps({"shapes": []}))
    with pytest.raises(DatasetError) as error:
        from_labelme(str(tmp_path)).write(str(out / "y.json"))
    assert str(error.value).splitlines()[1:] == [
        f"  {tmp_path / 'a.json'} is not a labelme file (no imagePath or shapes)",
        f"  {tmp_path / 'b.json'} is not a labelme file (no imagePath or shapes)",
    ]


def test_labelme_masks_of_one_group_add_up_and_are_cut_at_the_image_edge(tmp_path):
    _image(tmp_path / "x.png")
    ones = np.ones((10, 10), np.uint8)  # a mask PNG of 0/1 values
    buffer = io.BytesIO()
    Image.fromarray(ones).save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    group = {"label": "cell", "group_id": 4, "shape_type": "mask", "mask": encoded}
    shapes = [
        {**group, "points": [[W - 4, H - 6], [W + 5, H + 3]]},  # 4 x 6 inside the image
        {**group, "points": [[0, 0], [9, 9]]},
    ]
    (tmp_path / "x.json").write_text(json.dumps({"imagePath": "x.png", "shapes": shapes}))
    from_labelme(str(tmp_path)).write(str(tmp_path / "out" / "x.json"))
    ((_, mask),) = _decoded(tmp_path / "out" / "x.json")["x.png"]
    expected = np.zeros((H, W), bool)
    expected[H - 6 :, W - 4 :] = True
    expected[:10, :10] = True
    np.testing.assert_array_equal(mask.astype(bool), expected)


def test_via_entries_without_regions_or_attributes_and_unreadable_images(tmp_path):
    _image(tmp_path / "images" / "x.png")
    box = {"name": "rect", "x": 2, "y": 2, "width": 6, "height": 4}
    via = {
        "a": {"filename": "missing1.png", "regions": []},
        "b": {"filename": "missing2.png", "regions": []},
        "c": {"filename": "x.png"},
        "d": {"filename": "x.png", "regions": [{"shape_attributes": box}]},
    }
    (tmp_path / "via.json").write_text(json.dumps(via))
    with pytest.raises(DatasetError) as error:
        from_via(
            str(tmp_path / "via.json"), str(tmp_path / "images"), class_attribute="kind"
        ).write(str(tmp_path / "out.json"))
    lines = str(error.value).splitlines()[1:]
    assert [line.split(" cannot")[0] for line in lines[:2]] == [
        f"  image {tmp_path / 'images' / name}" for name in ("missing1.png", "missing2.png")
    ]
    assert lines[2:] == [
        f"  {tmp_path / 'via.json'}: 'd' region 0: region attribute 'kind' is missing or not a name"
    ]


def test_labelme_shapes_without_a_type_are_polygons_and_each_group_is_kept(tmp_path):
    _image(tmp_path / "in" / "x.png")
    ones = np.ones((6, 10), np.uint8)  # 10 wide, 6 tall
    buffer = io.BytesIO()
    Image.fromarray(ones).save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    shapes = [
        {"label": "m", "points": [[W - 4, 0], [W + 5, 5]], "shape_type": "mask", "mask": encoded},
        {"label": "dot", "points": [[5, 5]], "shape_type": "point"},
        {"label": "p", "points": [[2, 20], [10, 20], [10, 30], [2, 30]]},
        {"label": "q", "points": [[20, 20], [30, 20], [30, 30]], "shape_type": None},
    ]
    (tmp_path / "in" / "x.json").write_text(json.dumps({"imagePath": "x.png", "shapes": shapes}))
    (tmp_path / "in" / "y.json").write_text(json.dumps({"imagePath": "missing.png", "shapes": []}))
    (tmp_path / "in" / "z.json").write_text(json.dumps({"imagePath": "gone.png", "shapes": []}))
    with pytest.raises(DatasetError) as error:
        from_labelme(str(tmp_path / "in")).write(str(tmp_path / "bad.json"))
    assert len(str(error.value).splitlines()) == 3  # both missing images named
    (tmp_path / "in" / "y.json").unlink()
    (tmp_path / "in" / "z.json").unlink()
    from_labelme(str(tmp_path / "in")).write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")["x.png"]
    assert [name for name, _ in decoded] == ["m", "p", "q"]
    expected = np.zeros((H, W), bool)
    expected[0:6, W - 4 :] = True
    np.testing.assert_array_equal(decoded[0][1].astype(bool), expected)
    assert decoded[1][1].sum() == 8 * 10


def test_labelme_shapes_without_pixels_are_skipped_by_file_shape_and_label(tmp_path, caplog):
    _image(tmp_path / "x.png")
    shapes = [
        {"label": "cell", "points": [[1, 1], [5, 5], [9, 9]], "shape_type": "polygon"},
        {
            "label": "ring",
            "points": [[0, 0], [3, 3]],
            "shape_type": "mask",
            "mask": _png_base64(np.zeros((4, 4), bool)),
        },
        {"label": "cell", "points": [[2, 2], [10, 2], [10, 10], [2, 10]], "shape_type": "polygon"},
    ]
    (tmp_path / "x.json").write_text(json.dumps({"imagePath": "x.png", "shapes": shapes}))
    builder = from_labelme(str(tmp_path))
    builder.write(str(tmp_path / "out" / "out.json"))
    assert builder.skips == {"polygon of zero area": 1, "empty mask": 1}
    json_file = tmp_path / "x.json"
    assert f"{json_file}: shape(s) [0] ('cell'): polygon of zero area" in caplog.text
    assert f"{json_file}: shape(s) [1] ('ring'): empty mask" in caplog.text
    assert [name for name, _ in _decoded(tmp_path / "out" / "out.json")["x.png"]] == ["cell"]
