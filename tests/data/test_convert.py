"""The converters into COCO: masks round-trip pixel for pixel (holes, touching
instances, several parts), bad input is named or counted, nothing half-written."""

import base64
import io
import json
import os
import subprocess
import sys

from seg_d2.data import register_coco_dataset
from seg_d2.data.convert import (
    from_instance_pngs,
    from_labelme,
    from_mask_folders,
    from_semantic_pngs,
    from_via,
    split_coco_json,
)
from seg_d2.data.convert.__main__ import main as convert_command
from seg_d2.data.convert.builder import CocoBuilder, read_label_png
from seg_d2.data.convert.masks_layouts import _read_class_names
from seg_d2.data.masks import mask_to_rle, mask_to_segmentation, segmentation_to_mask
from seg_d2.errors import DatasetError

import numpy as np
import pytest
from helpers import REPO, unregister
from PIL import Image
from pycocotools import mask as mask_util

H, W = 40, 48


def _masks():
    """Three instances: a ring (a hole), a square touching the ring's right side, and a
    blob in two separate parts."""
    yy, xx = np.mgrid[:H, :W]
    ring = ((yy - 14) ** 2 + (xx - 14) ** 2 <= 100) & ((yy - 14) ** 2 + (xx - 14) ** 2 > 16)
    square = np.zeros((H, W), bool)
    square[8:20, 25:36] = True
    square &= ~ring
    parts = np.zeros((H, W), bool)
    parts[28:34, 4:10] = True
    parts[30:37, 30:44] = True
    return [ring, square, parts]


def _save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def _image(path, height=H, width=W):
    _save(path, np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8))


def _decoded(json_file):
    """{image file name: [(category name, mask), ...]} of a written COCO JSON."""
    with open(json_file) as f:
        dataset = json.load(f)
    names = {c["id"]: c["name"] for c in dataset["categories"]}
    images = {image["id"]: image for image in dataset["images"]}
    out = {image["file_name"]: [] for image in dataset["images"]}
    for a in dataset["annotations"]:
        image = images[a["image_id"]]
        out[image["file_name"]].append(
            (
                names[a["category_id"]],
                segmentation_to_mask(a["segmentation"], image["height"], image["width"]),
            )
        )
    return out


def _same_masks(decoded, expected):
    assert len(decoded) == len(expected)
    for (_, mask), want in zip(decoded, expected):
        np.testing.assert_array_equal(mask.astype(bool), want)


def test_mask_to_segmentation_is_exact_and_uses_polygons_only_where_they_are():
    ring, square, parts = _masks()
    assert isinstance(mask_to_segmentation(square), list)  # a plain region: polygons
    assert isinstance(mask_to_segmentation(parts), list)  # two separate parts: two polygons
    assert isinstance(mask_to_segmentation(ring), dict)  # a hole: RLE
    for mask in (ring, square, parts):
        np.testing.assert_array_equal(segmentation_to_mask(mask_to_segmentation(mask), H, W), mask)


def test_mask_polygons_follow_pixel_edges():
    mask = np.zeros((6, 6), np.uint8)
    mask[1:3, 1:4] = 1
    (polygon,) = mask_to_segmentation(mask)
    corners = set(zip(polygon[::2], polygon[1::2]))
    assert corners == {(1, 1), (4, 1), (4, 3), (1, 3)}


def _mask_folders(root, masks=None):
    for sample, sample_masks in (("a", masks or _masks()), ("b", _masks()[:1])):
        _image(root / sample / "images" / f"{sample}.png")
        for k, mask in enumerate(sample_masks):
            _save(str(root / sample / "masks" / f"{k}.png"), mask.astype(np.uint8) * 255)


def test_mask_folders_round_trip(tmp_path):
    _mask_folders(tmp_path / "data")
    builder = from_mask_folders(str(tmp_path / "data"), category="nucleus")
    builder.write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")
    assert sorted(decoded) == ["a/images/a.png", "b/images/b.png"]
    _same_masks(decoded["a/images/a.png"], _masks())
    assert {name for name, _ in decoded["a/images/a.png"]} == {"nucleus"}


def test_mask_of_the_wrong_size_is_named_and_nothing_is_written(tmp_path):
    masks = _masks() + [np.ones((H + 1, W), bool)]
    _mask_folders(tmp_path / "data", masks)
    builder = from_mask_folders(str(tmp_path / "data"))
    with pytest.raises(
        DatasetError,
        match=r"a/masks/3\.png: the mask is 48x41 but its image a/images/a\.png is 48x40",
    ):
        builder.write(str(tmp_path / "out.json"))
    assert not (tmp_path / "out.json").exists()


def test_empty_mask_is_a_counted_skip(tmp_path, caplog):
    _mask_folders(tmp_path / "data", _masks() + [np.zeros((H, W), bool)])
    builder = from_mask_folders(str(tmp_path / "data"))
    builder.write(str(tmp_path / "out.json"))
    assert builder.skips == {"empty mask": 1}
    assert "skipped 1 unusable" in caplog.text and "a/masks/3.png" in caplog.text
    assert len(_decoded(tmp_path / "out.json")["a/images/a.png"]) == 3


def test_sample_without_exactly_one_image_is_named(tmp_path):
    _mask_folders(tmp_path / "data")
    _image(tmp_path / "data" / "a" / "images" / "second.png")
    with pytest.raises(DatasetError, match=r"a/images holds 2 images, not 1"):
        from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "out.json"))


def _instance_ids(masks):
    ids = np.zeros((H, W), np.uint16)
    for k, mask in enumerate(masks, start=1):
        ids[mask] = k
    return ids


def _instance_pngs_with_a_class_map(tmp_path):
    _image(tmp_path / "images" / "x.jpg")
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids(_masks()))
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"x": {"1": "ring", "2": "box", "3": "ring"}}))
    return class_map


def _instance_pngs_in_class_folders(tmp_path):
    for cls in ("cat", "dog"):
        _image(tmp_path / "images" / cls / "x.png")
        _save(str(tmp_path / "ids" / cls / "x.png"), _instance_ids(_masks()[:1]).astype(np.uint8))


def test_instance_pngs_round_trip_with_a_class_map(tmp_path):
    class_map = _instance_pngs_with_a_class_map(tmp_path)
    from_instance_pngs(
        str(tmp_path / "images"), str(tmp_path / "ids"), class_map=str(class_map)
    ).write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")["x.jpg"]
    _same_masks(decoded, _masks())
    assert [name for name, _ in decoded] == ["ring", "box", "ring"]


def test_instance_pngs_take_the_class_from_the_folder(tmp_path):
    _instance_pngs_in_class_folders(tmp_path)
    from_instance_pngs(
        str(tmp_path / "images"), str(tmp_path / "ids"), class_from_folder=True
    ).write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")
    assert [name for name, _ in decoded["cat/x.png"]] == ["cat"] and [
        n for n, _ in decoded["dog/x.png"]
    ] == ["dog"]


def test_instance_ids_that_do_not_match_the_class_map_are_named(tmp_path):
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids(_masks()))
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"x": {"1": "a", "2": "a", "7": "a"}}))
    with pytest.raises(
        DatasetError, match=r"instance ids \[3\] have no class in the class map, and its ids \[7\]"
    ):
        from_instance_pngs(
            str(tmp_path / "images"), str(tmp_path / "ids"), class_map=str(class_map)
        ).write(str(tmp_path / "out.json"))


def test_image_and_label_files_that_do_not_pair_are_named(tmp_path):
    _image(tmp_path / "images" / "x.png")
    _image(tmp_path / "images" / "y.png")
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids(_masks()))
    _save(str(tmp_path / "ids" / "z.png"), _instance_ids(_masks()))
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(str(tmp_path / "images"), str(tmp_path / "ids")).write(
            str(tmp_path / "out.json")
        )
    assert "images/y.png has no instance PNG" in str(error.value)
    assert "ids/z.png has no image" in str(error.value)


def _semantic_pngs(tmp_path):
    """An image, its labels (0 background, 1 cell, 2 debris, 255 unlabelled) and the
    cells' instance ids; the labels."""
    ring, square, parts = _masks()
    labels = np.zeros((H, W), np.uint8)  # 0 = background (stuff)
    labels[ring | square] = 1  # cell
    labels[parts] = 2  # debris (stuff)
    labels[0, :] = 255
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "labels" / "x.png"), labels)
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids([ring, square]))
    return labels


def _semantic(tmp_path, with_instances):
    labels = _semantic_pngs(tmp_path)
    builder = from_semantic_pngs(
        str(tmp_path / "images"),
        str(tmp_path / "labels"),
        "0=background,1=cell,2=debris",
        instances_dir=str(tmp_path / "ids") if with_instances else None,
        things=["cell"],
    )
    builder.write(str(tmp_path / "out.json"))
    return _decoded(tmp_path / "out.json")["x.png"], labels


def test_semantic_pngs_with_instance_pngs_give_touching_things_and_stuff(tmp_path):
    decoded, labels = _semantic(tmp_path, with_instances=True)
    ring, square, parts = _masks()
    by_class = {}
    for name, mask in decoded:
        by_class.setdefault(name, []).append(mask.astype(bool))
    _same_masks([("cell", m) for m in by_class["cell"]], [ring, square])  # touching, kept apart
    np.testing.assert_array_equal(by_class["debris"][0], parts)
    np.testing.assert_array_equal(by_class["background"][0], labels == 0)
    with open(tmp_path / "out.json") as f:
        assert {c["name"]: c["isthing"] for c in json.load(f)["categories"]} == {
            "background": 0,
            "cell": 1,
            "debris": 0,
        }


def test_semantic_pngs_alone_split_things_into_connected_components(tmp_path):
    decoded, _ = _semantic(tmp_path, with_instances=False)
    cells = [mask for name, mask in decoded if name == "cell"]
    ring, square, _ = _masks()
    assert len(cells) == 1  # the square touches the ring: one component
    np.testing.assert_array_equal(cells[0].astype(bool), ring | square)


def test_semantic_value_outside_the_classes_is_named(tmp_path):
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "labels" / "x.png"), np.full((H, W), 9, np.uint8))
    with pytest.raises(DatasetError, match=r"labels/x\.png: values \[9\] are not in the classes"):
        from_semantic_pngs(str(tmp_path / "images"), str(tmp_path / "labels"), "0=bg,1=cell").write(
            str(tmp_path / "out.json")
        )


def _via_export(tmp_path):
    _image(tmp_path / "images" / "x.png")
    via = {
        "x.png1234": {
            "filename": "x.png",
            "size": 1234,
            "regions": [
                {
                    "shape_attributes": {
                        "name": "polygon",
                        "all_points_x": [2, 20, 20, 2],
                        "all_points_y": [2, 2, 12, 12],
                    },
                    "region_attributes": {"kind": "box"},
                },
                {
                    "shape_attributes": {
                        "name": "rect",
                        "x": 30,
                        "y": 20,
                        "width": 10,
                        "height": 8,
                    },
                    "region_attributes": {"kind": "box"},
                },
                {
                    "shape_attributes": {"name": "circle", "cx": 12, "cy": 28, "r": 6},
                    "region_attributes": {"kind": "disc"},
                },
                {
                    "shape_attributes": {"name": "point", "cx": 5, "cy": 5},
                    "region_attributes": {"kind": "box"},
                },
            ],
        }
    }
    (tmp_path / "via.json").write_text(json.dumps(via))


def test_via_regions_become_polygons_and_points_are_counted_skips(tmp_path):
    _via_export(tmp_path)
    builder = from_via(str(tmp_path / "via.json"), str(tmp_path / "images"), class_attribute="kind")
    builder.write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")["x.png"]
    assert [name for name, _ in decoded] == ["box", "box", "disc"]
    assert decoded[0][1].sum() == 18 * 10 and decoded[1][1].sum() == 10 * 8
    assert abs(decoded[2][1].sum() - np.pi * 36) < 15
    assert builder.skips == {"point region has no area": 1}


def _png_base64(mask):
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _labelme_folder(tmp_path):
    _image(tmp_path / "x.png")
    ring = _masks()[0]
    shapes = [
        {
            "label": "cell",
            "points": [[2, 2], [10, 2], [10, 10], [2, 10]],
            "group_id": 1,
            "shape_type": "polygon",
        },
        {"label": "cell", "points": [[20, 2], [28, 10]], "group_id": 1, "shape_type": "rectangle"},
        {
            "label": "ring",
            "points": [[0, 0], [W - 1, H - 1]],
            "group_id": None,
            "shape_type": "mask",
            "mask": _png_base64(ring),
        },
        {"label": "cell", "points": [[5, 5]], "group_id": None, "shape_type": "point"},
    ]
    (tmp_path / "x.json").write_text(json.dumps({"imagePath": "x.png", "shapes": shapes}))


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


def _convert(capsys, *argv):
    """``python -m seg_d2.data.convert ARGV`` in this process; what it printed."""
    convert_command([str(arg) for arg in argv])
    return capsys.readouterr().out


def _same_json(a, b):
    with open(a) as f, open(b) as g:
        assert json.load(f) == json.load(g)


def test_command_line_writes_a_dataset_that_registers_and_loads(tmp_path, capsys):
    _mask_folders(tmp_path / "data")
    out = tmp_path / "nuclei.json"
    printed = _convert(
        capsys, "mask-folders", tmp_path / "data", "--category", "nucleus", "--output", out
    )
    assert "instances: nucleus" in printed
    assert str(out) in printed.splitlines()[0]  # the summary's header names the JSON written
    assert f"DATASETS.COCO_FORMAT \"['nuclei={out}:{tmp_path / 'data'}']\"" in printed
    register_coco_dataset("converted", out, tmp_path / "data")
    try:
        from detectron2.data import DatasetCatalog

        records = DatasetCatalog.get("converted")
        assert [len(r["annotations"]) for r in records] == [3, 1]
        semantic = DatasetCatalog.get("converted_sem_seg")
        assert os.path.isfile(semantic[0]["sem_seg_file_name"])
    finally:
        unregister("converted")


def test_command_line_class_is_object_unless_given(tmp_path, capsys):
    _mask_folders(tmp_path / "folders")
    _convert(capsys, "mask-folders", tmp_path / "folders", "--output", tmp_path / "folders.json")
    _instance_pngs_in_class_folders(tmp_path)
    _convert(
        capsys,
        "instance-png",
        tmp_path / "images",
        tmp_path / "ids",
        "--output",
        tmp_path / "ids.json",
    )
    _via_export(tmp_path / "via")
    _convert(
        capsys,
        "via",
        tmp_path / "via" / "via.json",
        tmp_path / "via" / "images",
        "--output",
        tmp_path / "via.json",
    )
    for written in ("folders.json", "ids.json", "via.json"):
        decoded = _decoded(tmp_path / written)
        assert {name for masks in decoded.values() for name, _ in masks} == {"object"}, written


def test_command_line_gives_each_layouts_options_to_its_converter(tmp_path, capsys):
    class_map = _instance_pngs_with_a_class_map(tmp_path / "mapped")
    mapped = tmp_path / "mapped"
    _convert(
        capsys,
        "instance-png",
        mapped / "images",
        mapped / "ids",
        "--class-map",
        class_map,
        "--output",
        tmp_path / "mapped.json",
    )
    from_instance_pngs(str(mapped / "images"), str(mapped / "ids"), class_map=str(class_map)).write(
        str(tmp_path / "mapped_ref.json")
    )

    folders = tmp_path / "folders"
    _instance_pngs_in_class_folders(folders)
    _convert(
        capsys,
        "instance-png",
        folders / "images",
        folders / "ids",
        "--class-from-folder",
        "--output",
        tmp_path / "folders.json",
    )
    from_instance_pngs(str(folders / "images"), str(folders / "ids"), class_from_folder=True).write(
        str(tmp_path / "folders_ref.json")
    )

    semantic = tmp_path / "semantic"
    _semantic_pngs(semantic)
    classes = "0=background,1=cell,2=debris"
    _convert(
        capsys,
        "semantic-png",
        semantic / "images",
        semantic / "labels",
        "--classes",
        classes,
        "--things",
        "cell",
        "--instances",
        semantic / "ids",
        "--output",
        tmp_path / "semantic.json",
    )
    from_semantic_pngs(
        str(semantic / "images"),
        str(semantic / "labels"),
        classes,
        instances_dir=str(semantic / "ids"),
        things=["cell"],
    ).write(str(tmp_path / "semantic_ref.json"))

    via = tmp_path / "via"
    _via_export(via)
    _convert(
        capsys,
        "via",
        via / "via.json",
        via / "images",
        "--class-attribute",
        "kind",
        "--output",
        tmp_path / "via.json",
    )
    from_via(str(via / "via.json"), str(via / "images"), class_attribute="kind").write(
        str(tmp_path / "via_ref.json")
    )

    labelme = tmp_path / "labelme"
    labelme.mkdir()
    _labelme_folder(labelme)
    _convert(capsys, "labelme", labelme, "--output", tmp_path / "labelme.json")
    from_labelme(str(labelme)).write(str(tmp_path / "labelme_ref.json"))

    for layout in ("mapped", "folders", "semantic", "via", "labelme"):
        _same_json(tmp_path / f"{layout}.json", tmp_path / f"{layout}_ref.json")
    assert [name for name, _ in _decoded(tmp_path / "mapped.json")["x.jpg"]] == [
        "ring",
        "box",
        "ring",
    ]


def test_command_line_semantic_pngs_ignore_255_and_need_no_things(tmp_path, capsys):
    _semantic_pngs(tmp_path)
    out = tmp_path / "out.json"
    classes = ["--classes", "0=background,1=cell,2=debris", "--output", out]
    command = ["semantic-png", tmp_path / "images", tmp_path / "labels", *classes]
    _convert(capsys, *command)
    with open(out) as f:
        assert {c["name"]: c["isthing"] for c in json.load(f)["categories"]} == {
            "background": 0,
            "cell": 0,
            "debris": 0,
        }
    with pytest.raises(DatasetError, match=r"values \[255\] are not in the classes"):
        _convert(capsys, *command, "--ignore-value", "7")


def test_command_line_split_defaults_to_a_fifth_with_seed_0(tmp_path, capsys):
    for sample in "abcdefghij":
        _image(tmp_path / "data" / sample / "images" / f"{sample}.png")
        _save(
            str(tmp_path / "data" / sample / "masks" / "0.png"), _masks()[1].astype(np.uint8) * 255
        )
    from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "all.json"))
    printed = _convert(capsys, "split", tmp_path / "all.json")
    with open(tmp_path / "all_val.json") as f:
        default_val = json.load(f)
    assert printed == f"wrote {tmp_path / 'all_train.json'}\nwrote {tmp_path / 'all_val.json'}\n"
    assert len(default_val["images"]) == 2
    split_coco_json(str(tmp_path / "all.json"), 0.2)  # the function's default seed is 0 too
    with open(tmp_path / "all_val.json") as f:
        assert json.load(f) == default_val
    _convert(capsys, "split", tmp_path / "all.json", "--val-fraction", "0.5", "--seed", "3")
    with open(tmp_path / "all_val.json") as f:
        half = json.load(f)
    split_coco_json(str(tmp_path / "all.json"), 0.5, seed=3)
    with open(tmp_path / "all_val.json") as f:
        assert json.load(f) == half and len(half["images"]) == 5


def test_command_line_names_bad_input_without_a_traceback(tmp_path):
    _mask_folders(tmp_path / "data", _masks() + [np.ones((H + 1, W), bool)])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "seg_d2.data.convert",
            "mask-folders",
            str(tmp_path / "data"),
            "--output",
            str(tmp_path / "out.json"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 1
    assert (
        "error: 1 problem(s) in the input; nothing was written" in run.stderr
        and "Traceback" not in run.stderr
    )
    assert not (tmp_path / "out.json").exists()


def test_builder_numbers_images_instances_and_classes_in_the_order_added(tmp_path):
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    builder = CocoBuilder(str(tmp_path))
    a, b = builder.add_image(str(tmp_path / "a.png")), builder.add_image(str(tmp_path / "b.png"))
    assert (a, b) == (
        {"id": 1, "file_name": "a.png", "height": H, "width": W},
        {"id": 2, "file_name": "b.png", "height": H, "width": W},
    )
    cell, debris = builder.category_id("cell"), builder.category_id("debris", isthing=False)
    assert (cell, debris, builder.category_id("cell")) == (1, 2, 1)
    with pytest.raises(ValueError, match="category 'cell' is given both as a thing and as stuff"):
        builder.category_id("cell", isthing=False)
    square = _masks()[1]
    builder.add_mask(a, cell, square, "square")
    builder.add_polygons(b, debris, [[2, 2, 10, 2, 10, 6, 2, 6]], "box")
    dataset = builder.dataset()
    rle = mask_to_rle(square)
    assert dataset["annotations"] == [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "segmentation": mask_to_segmentation(square.astype(np.uint8)),
            "area": float(square.sum()),
            "bbox": [float(v) for v in mask_util.toBbox(rle)],
            "iscrowd": 0,
        },
        {
            "id": 2,
            "image_id": 2,
            "category_id": 2,
            "segmentation": [[2.0, 2.0, 10.0, 2.0, 10.0, 6.0, 2.0, 6.0]],
            "area": 32.0,
            "bbox": [2.0, 2.0, 8.0, 4.0],
            "iscrowd": 0,
        },
    ]
    assert dataset["categories"] == [
        {"id": 1, "name": "cell", "isthing": 1},
        {"id": 2, "name": "debris", "isthing": 0},
    ]


def test_builder_counts_logs_and_names_every_skip(tmp_path, caplog):
    for name in ("a.png", "b.png", "c.png"):
        _image(tmp_path / name)
    builder = CocoBuilder(str(tmp_path))
    a = builder.add_image(str(tmp_path / "a.png"))
    builder.add_image(str(tmp_path / "b.png"))
    builder.add_image(str(tmp_path / "c.png"))
    cell = builder.category_id("cell")
    builder.add_mask(a, cell, np.zeros((H, W), bool), "m1")
    builder.add_mask(a, cell, np.zeros((H, W), bool), "m2")
    builder.add_polygons(a, cell, [[0, 0, 5, 0]], "p1")
    builder.add_polygons(a, cell, [[0, 0, 5, 0, 10, 0]], "p2")
    builder.add_mask(a, cell, _masks()[1], "kept")
    builder.add_mask(a, cell, np.zeros((H, W), bool), "m3")
    builder.add_mask(a, cell, np.zeros((H, W), bool), "m4")
    builder.write(str(tmp_path / "out.json"))
    assert builder.skips == {
        "empty mask": 4,
        "polygon of fewer than 3 points": 1,
        "polygon of zero area": 1,
    }
    assert (
        "skipped 6 unusable mask(s)/shape(s) (4 empty mask, 1 polygon of fewer than 3 points, "
        "1 polygon of zero area), e.g.: m1: empty mask; m2: empty mask; p1: polygon of fewer "
        "than 3 points; p2: polygon of zero area; m3: empty mask\n"
    ) in caplog.text  # five examples at most
    assert "2 image(s) have no instance; kept as images without annotations" in caplog.messages


def test_builder_names_each_image_it_cannot_take_and_writes_nothing(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "broken.png").write_bytes(b"not an image")
    _image(tmp_path / "outside.png")
    builder = CocoBuilder(str(tmp_path / "root"))
    assert builder.add_image(str(tmp_path / "root" / "broken.png")) is None
    assert builder.add_image(str(tmp_path / "outside.png")) is None
    assert builder.images == []
    with pytest.raises(DatasetError) as error:
        builder.write(str(tmp_path / "out.json"))
    assert str(error.value) == (
        "2 problem(s) in the input; nothing was written:\n"
        f"  image {tmp_path / 'root' / 'broken.png'} cannot be read (UnidentifiedImageError: "
        f"cannot identify image file '{tmp_path / 'root' / 'broken.png'}')\n"
        f"  image {tmp_path / 'outside.png'} is not inside the image root {tmp_path / 'root'}"
    )
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("mode", ["L", "P", "RGB", "RGBA", "LA"])
def test_label_pngs_read_as_values_or_as_any_colour(tmp_path, mode):
    values = np.zeros((4, 5), np.uint8)
    values[1, 2], values[3, 4] = 3, 200
    if mode in ("L", "P"):  # the values themselves (a palette's indices)
        image = Image.new(mode, (5, 4))
        image.putdata(values.ravel().tolist())
        if mode == "P":
            image.putpalette([255 - v for v in range(256) for _ in range(3)])
    else:  # any non-zero colour channel; the alpha channel is not a label
        pixels = np.zeros((4, 5, len(mode)), np.uint8)
        pixels[1, 2, 0] = 3
        pixels[3, 4, 0 if mode != "RGB" else 2] = 200
        if "A" in mode:
            pixels[..., -1] = 255
        image = Image.fromarray(pixels, mode)
    image.save(tmp_path / "label.png")
    read = read_label_png(str(tmp_path / "label.png"))
    assert read.dtype == np.int64
    np.testing.assert_array_equal(read, values)


def _vertices(segmentation):
    polygon = np.asarray(segmentation[0], float)
    return polygon[0::2], polygon[1::2]


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


def test_class_names_come_from_pairs_or_from_a_file_of_lines(tmp_path):
    assert _read_class_names("0=bg, 1 = cell ,7=red cell") == {0: "bg", 1: "cell", 7: "red cell"}
    by_line = tmp_path / "by_line.txt"
    by_line.write_text("background\n\nnucleus\ncell wall\n")
    assert _read_class_names(str(by_line)) == {0: "background", 1: "nucleus", 2: "cell wall"}
    by_value = tmp_path / "by_value.txt"
    by_value.write_text("0 background\n5 red blood cell\n")
    assert _read_class_names(str(by_value)) == {0: "background", 5: "red blood cell"}
    with pytest.raises(
        ValueError, match=r"--classes 'bg,cell': expected value=name pairs or a file of class names"
    ):
        _read_class_names("bg,cell")


def test_semantic_things_must_be_among_the_classes(tmp_path):
    _semantic_pngs(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"thing classes \['cat', 'dog'\] are not among the classes \['background', 'cell'\]",
    ):
        from_semantic_pngs(
            str(tmp_path / "images"),
            str(tmp_path / "labels"),
            "0=background,1=cell",
            things=["dog", "cell", "cat"],
        )


def test_unpaired_files_and_class_map_mismatches_are_each_named(tmp_path):
    for stem in ("a", "b", "c", "d"):
        _image(tmp_path / "images" / f"{stem}.png")
        _save(str(tmp_path / "ids" / f"{stem}.png"), _instance_ids(_masks()[:2]))
    _image(tmp_path / "images" / "lonely.png")
    _save(str(tmp_path / "ids" / "orphan.png"), _instance_ids(_masks()[:2]))
    class_map = tmp_path / "classes.json"
    class_map.write_text(
        json.dumps(
            {"a": {"1": "x"}, "b": {"1": "x", "2": "x", "3": "x"}, "c": {"1": "x", "3": "x"}}
        )
    )
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(
            str(tmp_path / "images"), str(tmp_path / "ids"), class_map=str(class_map)
        ).write(str(tmp_path / "out.json"))
    ids = tmp_path / "ids"
    assert str(error.value).splitlines() == [
        "6 problem(s) in the input; nothing was written:",
        f"  image {tmp_path / 'images' / 'lonely.png'} has no instance PNG in {ids}",
        f"  instance PNG {ids / 'orphan.png'} has no image in {tmp_path / 'images'}",
        f"  instance PNG {ids / 'a.png'}: instance ids [2] have no class in the class map",
        f"  instance PNG {ids / 'b.png'}: the class map's ids [3] are not in the PNG",
        f"  instance PNG {ids / 'c.png'}: instance ids [2] have no class in the class map, "
        "and its ids [3] are not in the PNG",
        f"  instance PNG {ids / 'd.png'}: the class map has no entry 'd'",
    ]


def test_images_outside_class_folders_are_named_and_empty_id_pngs_kept(tmp_path):
    _instance_pngs_in_class_folders(tmp_path)
    _image(tmp_path / "images" / "cat" / "empty.png")
    _save(str(tmp_path / "ids" / "cat" / "empty.png"), np.zeros((H, W), np.uint8))
    builder = from_instance_pngs(
        str(tmp_path / "images"), str(tmp_path / "ids"), class_from_folder=True
    )
    builder.write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")
    assert {name: len(found) for name, found in decoded.items()} == {
        "cat/empty.png": 0,
        "cat/x.png": 1,
        "dog/x.png": 1,
    }
    for top in ("top", "top2"):
        _image(tmp_path / "images" / f"{top}.png")
        _save(str(tmp_path / "ids" / f"{top}.png"), _instance_ids(_masks()[:1]).astype(np.uint8))
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(
            str(tmp_path / "images"), str(tmp_path / "ids"), class_from_folder=True
        ).write(str(tmp_path / "out2.json"))
    assert str(error.value).splitlines()[1:] == [
        f"  image {tmp_path / 'images' / top}.png is not in a class folder under "
        f"{tmp_path / 'images'}"
        for top in ("top", "top2")
    ]


def test_mask_folders_pass_over_stray_files_and_name_each_broken_sample(tmp_path):
    _mask_folders(tmp_path / "data")
    (tmp_path / "data" / "README.txt").write_text("not a sample")
    from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "out.json"))
    assert sorted(_decoded(tmp_path / "out.json")) == ["a/images/a.png", "b/images/b.png"]
    for sample in ("c", "d"):
        (tmp_path / "data" / sample / "images").mkdir(parents=True)
        (tmp_path / "data" / sample / "images" / f"{sample}.png").write_bytes(b"broken")
    with pytest.raises(DatasetError) as error:
        from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "out2.json"))
    assert [line.split(" cannot be read")[0] for line in str(error.value).splitlines()[1:]] == [
        f"  image {tmp_path / 'data' / sample / 'images' / sample}.png" for sample in ("c", "d")
    ]


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


def test_masks_given_as_booleans_encode_like_uint8(tmp_path):
    mask = _masks()[0]
    assert mask_to_rle(mask) == mask_to_rle(mask.astype(np.uint8))


def test_random_blobs_round_trip_through_their_polygons():
    rng = np.random.default_rng(0)
    for _ in range(30):
        noise = rng.random((24, 30))
        mask = (noise > 0.55).astype(np.uint8)
        np.testing.assert_array_equal(
            segmentation_to_mask(mask_to_segmentation(mask), 24, 30), mask
        )


def test_class_names_keep_everything_after_the_first_equals_sign():
    assert _read_class_names("0=bg,1=a=b") == {0: "bg", 1: "a=b"}


def test_semantic_labels_of_the_wrong_size_are_named_per_region(tmp_path):
    _image(tmp_path / "images" / "x.png")
    labels = np.zeros((H + 1, W), np.uint8)
    labels[2:6, 2:6] = 1
    _save(str(tmp_path / "labels" / "x.png"), labels)
    _save(str(tmp_path / "ids" / "x.png"), (labels == 1).astype(np.uint8))
    label_file = tmp_path / "labels" / "x.png"
    size = f"the mask is {W}x{H + 1} but its image x.png is {W}x{H}"
    for instances, cell in ((None, "component 1 of"), (str(tmp_path / "ids"), "instance 1 in")):
        with pytest.raises(DatasetError) as error:
            from_semantic_pngs(
                str(tmp_path / "images"),
                str(tmp_path / "labels"),
                "0=bg,1=cell",
                instances_dir=instances,
                things=["cell"],
            ).write(str(tmp_path / "out.json"))
        assert str(error.value).splitlines()[1:] == [
            f"  class 'bg' of {label_file}: {size}",
            f"  {cell} class 'cell' of {label_file}: {size}",
        ]


def test_semantic_pngs_name_every_unpaired_file_and_every_bad_label_file(tmp_path):
    for stem in ("a", "b", "c"):
        _image(tmp_path / "images" / f"{stem}.png")
    _save(str(tmp_path / "labels" / "a.png"), np.full((H, W), 7, np.uint8))
    _save(str(tmp_path / "labels" / "b.png"), np.full((H, W), 9, np.uint8))
    _save(str(tmp_path / "labels" / "z.png"), np.zeros((H, W), np.uint8))
    _save(str(tmp_path / "ids" / "a.png"), np.zeros((H, W), np.uint8))
    with pytest.raises(DatasetError) as error:
        from_semantic_pngs(
            str(tmp_path / "images"),
            str(tmp_path / "labels"),
            "0=bg",
            instances_dir=str(tmp_path / "ids"),
        ).write(str(tmp_path / "out.json"))
    images, labels, ids = (tmp_path / d for d in ("images", "labels", "ids"))
    assert str(error.value).splitlines()[1:] == [
        f"  image {images / 'b.png'} has no instance PNG in {ids}",
        f"  image {images / 'c.png'} has no instance PNG in {ids}",
        f"  image {images / 'c.png'} has no label PNG in {labels}",
        f"  label PNG {labels / 'z.png'} has no image in {images}",
        f"  label PNG {labels / 'a.png'}: values [7] are not in the classes",
        f"  label PNG {labels / 'b.png'}: values [9] are not in the classes",
    ]


def test_masks_of_value_1_count_and_broken_images_do_not_stop_the_others(tmp_path):
    _image(tmp_path / "images" / "a.png")
    (tmp_path / "images" / "b.png").write_bytes(b"broken")
    (tmp_path / "images" / "c.png").write_bytes(b"broken")
    for stem in "abc":
        _save(str(tmp_path / "ids" / f"{stem}.png"), _instance_ids(_masks()[:1]).astype(np.uint8))
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(str(tmp_path / "images"), str(tmp_path / "ids")).write(
            str(tmp_path / "out.json")
        )
    assert [line.split(" cannot")[0] for line in str(error.value).splitlines()[1:]] == [
        f"  image {tmp_path / 'images' / stem}.png" for stem in "bc"
    ]
    _mask_folders(tmp_path / "folders")
    _save(str(tmp_path / "folders" / "b" / "masks" / "0.png"), _masks()[0].astype(np.uint8))
    from_mask_folders(str(tmp_path / "folders")).write(str(tmp_path / "folders.json"))
    ((_, mask),) = _decoded(tmp_path / "folders.json")["b/images/b.png"]
    np.testing.assert_array_equal(mask.astype(bool), _masks()[0])


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


# What ``python -m seg_d2.data.convert ...`` runs (run_command(main)), for four layouts in
# one process.
_CONVERT_UNDER_AN_ASCII_LOCALE = """
import sys
from seg_d2.cli import run_command
from seg_d2.data.convert.__main__ import main

root = sys.argv[1]
for argv in (
    ["via", f"{root}/via/via.json", f"{root}/via/images", "--class-attribute", "kind"],
    ["labelme", f"{root}/labelme"],
    ["instance-png", f"{root}/mapped/images", f"{root}/mapped/ids",
     "--class-map", f"{root}/mapped/classes.json"],
    ["semantic-png", f"{root}/semantic/images", f"{root}/semantic/labels",
     "--classes", f"{root}/classes.txt", "--things", "Zelle"],
):
    run_command(main, [*argv, "--output", f"{root}/{argv[0]}.json"])
"""


def _rewrite_in_utf8(path, replace):
    text = path.read_text(encoding="utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def test_convert_command_reads_its_inputs_as_utf8_whatever_the_locale(tmp_path):
    """Class names in UTF-8 (as VIA, labelme and editors write them) under a locale whose
    default encoding is ASCII, as on a machine or container without a UTF-8 locale; the
    command's own process, so its log lines too."""
    _via_export(tmp_path / "via")
    _rewrite_in_utf8(tmp_path / "via" / "via.json", {'"disc"': '"Scheibe \u00e4"'})
    (tmp_path / "labelme").mkdir()
    _labelme_folder(tmp_path / "labelme")
    _rewrite_in_utf8(tmp_path / "labelme" / "x.json", {'"ring"': '"anneau \u00e9"'})
    _rewrite_in_utf8(
        _instance_pngs_with_a_class_map(tmp_path / "mapped"), {'"box"': '"bo\u00eete"'}
    )
    _semantic_pngs(tmp_path / "semantic")
    (tmp_path / "classes.txt").write_text("Hintergrund\nZelle\nTr\u00fcmmer\n", encoding="utf-8")
    ascii_locale = {
        **os.environ,
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
    }
    run = subprocess.run(
        [sys.executable, "-c", _CONVERT_UNDER_AN_ASCII_LOCALE, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=ascii_locale,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "instances: Scheibe \\xe4" in run.stdout  # escaped for the ASCII terminal
    # the command's log lines: level and message
    assert "WARNING skipped 1 unusable mask(s)/shape(s) (1 point region has no area)" in run.stderr
    assert "WARNING skipped 1 unusable mask(s)/shape(s) (1 point shape has no area)" in run.stderr
    names = {}
    for layout in ("via", "labelme", "instance-png", "semantic-png"):
        with open(tmp_path / f"{layout}.json", encoding="utf-8") as f:
            names[layout] = sorted(c["name"] for c in json.load(f)["categories"])
    assert names == {
        "via": ["Scheibe \u00e4", "box"],
        "labelme": ["anneau \u00e9", "cell"],
        "instance-png": ["bo\u00eete", "ring"],
        "semantic-png": ["Hintergrund", "Tr\u00fcmmer", "Zelle"],
    }


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


def test_instance_pngs_of_another_size_than_their_image_are_named(tmp_path):
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "ids" / "x.png"), np.ones((H + 1, W), np.uint8))
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(str(tmp_path / "images"), str(tmp_path / "ids")).write(
            str(tmp_path / "out.json")
        )
    assert str(error.value).splitlines()[1:] == [
        f"  instance 1 of {tmp_path / 'ids' / 'x.png'}: the mask is {W}x{H + 1} but its image "
        f"x.png is {W}x{H}"
    ]


def test_converters_called_without_a_class_name_it_is_object(tmp_path):
    _mask_folders(tmp_path / "folders")
    from_mask_folders(str(tmp_path / "folders")).write(str(tmp_path / "folders.json"))
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids(_masks()))
    from_instance_pngs(str(tmp_path / "images"), str(tmp_path / "ids")).write(
        str(tmp_path / "ids.json")
    )
    for written in ("folders.json", "ids.json"):
        with open(tmp_path / written) as f:
            assert [c["name"] for c in json.load(f)["categories"]] == ["object"], written


def test_every_sample_without_one_image_and_every_unreadable_image_is_named(tmp_path):
    for sample, count in (("a", 0), ("b", 2)):
        (tmp_path / "data" / sample / "images").mkdir(parents=True)
        for k in range(count):
            _image(tmp_path / "data" / sample / "images" / f"{k}.png")
    with pytest.raises(DatasetError) as error:
        from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "out.json"))
    assert str(error.value).splitlines()[1:] == [
        f"  {tmp_path / 'data' / sample / 'images'} holds {count} images, not 1"
        for sample, count in (("a", 0), ("b", 2))
    ]
    for stem in "ab":
        (tmp_path / "images" / f"{stem}.png").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "images" / f"{stem}.png").write_bytes(b"broken")
        _save(str(tmp_path / "labels" / f"{stem}.png"), np.zeros((H, W), np.uint8))
    with pytest.raises(DatasetError) as error:
        from_semantic_pngs(str(tmp_path / "images"), str(tmp_path / "labels"), "0=bg").write(
            str(tmp_path / "out.json")
        )
    assert [line.split(" cannot")[0] for line in str(error.value).splitlines()[1:]] == [
        f"  image {tmp_path / 'images' / stem}.png" for stem in "ab"
    ]


def test_command_line_requires_a_layout_its_output_and_semantic_classes(tmp_path, capsys):
    for argv, missing in (
        ([], "layout"),
        (["labelme", str(tmp_path)], "--output"),
        (["semantic-png", "images", "labels", "--output", "out.json"], "--classes"),
    ):
        with pytest.raises(SystemExit) as exit:
            convert_command(argv)
        assert exit.value.code == 2
        assert f"the following arguments are required: {missing}" in capsys.readouterr().err


def test_command_line_semantic_things_and_ignore_value(tmp_path, capsys):
    """--things is a comma-separated list; --ignore-value is a label value like any
    other (here 2: the debris pixels are then unlabelled, not a class)."""
    _semantic_pngs(tmp_path)
    out = tmp_path / "out.json"
    command = ["semantic-png", tmp_path / "images", tmp_path / "labels", "--output", out]
    _convert(
        capsys, *command, "--classes", "0=background,1=cell,2=debris", "--things", "cell,debris"
    )
    with open(out) as f:
        assert {c["name"]: c["isthing"] for c in json.load(f)["categories"]} == {
            "background": 0,
            "cell": 1,
            "debris": 1,
        }
    labels = np.asarray(Image.open(tmp_path / "labels" / "x.png")).copy()
    labels[labels == 255] = 0
    _save(str(tmp_path / "labels" / "x.png"), labels)
    _convert(capsys, *command, "--classes", "0=background,1=cell", "--ignore-value", "2")
    assert [name for name, _ in _decoded(out)["x.png"]] == ["background", "cell"]


def test_command_line_help_shows_the_docstring_as_written(capsys):
    from seg_d2.data import validate
    from seg_d2.data.convert import __main__ as convert

    for module in (convert, validate):
        with pytest.raises(SystemExit):
            module.main(["--help"])
        assert module.__doc__.strip() in capsys.readouterr().out, module.__name__
