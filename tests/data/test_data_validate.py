"""Every validation error names the file and the image or annotation at fault."""

import json

from seg_d2.data.validate import (
    DatasetError,
    ValidationReport,
    _finite_numbers,
    listed_problems,
    main,
    validate_coco_dataset,
)

import numpy as np
import pytest
from dataset_changes import set_at
from helpers import unregister
from PIL import Image

H, W = 30, 40


def _dataset():
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "height": H, "width": W},
            {"id": 2, "file_name": "b.png", "height": H, "width": W},
        ],
        "annotations": [
            {
                "id": 10,
                "image_id": 1,
                "category_id": 4,
                "iscrowd": 0,
                "bbox": [1, 1, 10, 10],
                "segmentation": [[1, 1, 11, 1, 11, 11, 1, 11]],
            },
            {
                "id": 20,
                "image_id": 2,
                "category_id": 4,
                "iscrowd": 0,
                "bbox": [5, 5, 10, 10],
                "segmentation": [[5, 5, 15, 5, 15, 15, 5, 15]],
            },
        ],
        "categories": [{"id": 4, "name": "box"}],
    }


def _write(tmp_path, dataset, images=("a.png", "b.png")):
    (tmp_path / "images").mkdir(exist_ok=True)
    for name in images:
        Image.new("RGB", (W, H)).save(tmp_path / "images" / name)
    json_file = tmp_path / "instances.json"
    json_file.write_text(json.dumps(dataset))
    return json_file, tmp_path / "images"


def _errors(tmp_path, dataset, **kwargs):
    json_file, images = _write(tmp_path, dataset, **kwargs)
    report = validate_coco_dataset(json_file, images)
    with pytest.raises(DatasetError) as error:
        report.raise_if_errors()
    message = str(error.value)
    assert str(json_file) in message
    return message


def test_a_good_dataset_has_no_problem(tmp_path):
    json_file, images = _write(tmp_path, _dataset())
    report = validate_coco_dataset(json_file, images, decode_images=True)
    report.raise_if_errors()
    assert report.num_images == 2 and report.instances_per_class["box"] == 2 and not report.skipped


def test_missing_image_file(tmp_path):
    assert "image id 2 ('b.png'): image file" in _errors(tmp_path, _dataset(), images=("a.png",))


@pytest.mark.parametrize(
    "change, expected",
    [
        (set_at(("images", 1, "width"), 41), "image id 2 ('b.png'): the JSON says 41x30 but"),
        (
            set_at(("annotations", 1, "category_id"), 99),
            "annotation id 20 of image id 2: category id 99 is not in 'categories'",
        ),
        (
            set_at(("annotations", 0, "bbox"), [35, 1, 10, 10]),
            "annotation id 10 of image id 1: bbox [35, 1, 10, 10] lies outside",
        ),
        (
            set_at(
                ("annotations", 0, "bbox"), [1, 25, 10, 10]
            ),  # inside in x, below the image in y
            "annotation id 10 of image id 1: bbox [1, 25, 10, 10] lies outside",
        ),
        (set_at(("images", 1, "id"), 1), "image id 1 appears more than once"),
        (set_at(("annotations", 1, "id"), 10), "annotation id 10 appears more than once"),
        (
            set_at(
                ("annotations", 0, "segmentation"), {"size": [H, W + 1], "counts": [H * (W + 1)]}
            ),
            "annotation id 10 of image id 1: RLE size [30, 41]",
        ),
        (
            set_at(("annotations", 0, "segmentation"), [[1, 1, 11, 1, float("nan"), 11]]),
            "annotation id 10 of image id 1: polygon coordinates must be finite",
        ),
        (lambda dataset: dataset.update(images=[], annotations=[]), "the dataset is empty"),
    ],
)
def test_each_error_names_its_culprit(tmp_path, change, expected):
    dataset = _dataset()
    change(dataset)
    assert expected in _errors(tmp_path, dataset)


def test_image_that_cannot_be_decoded(tmp_path):
    json_file, images = _write(tmp_path, _dataset())
    (images / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(
        DatasetError, match=r"image id 2 \('b.png'\): image file .* cannot be decoded"
    ):
        validate_coco_dataset(json_file, images).raise_if_errors()


def test_truncated_image_is_caught_when_decoding(tmp_path):
    json_file, images = _write(tmp_path, _dataset())
    noise = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    Image.fromarray(noise).save(images / "b.png")
    data = (images / "b.png").read_bytes()
    (images / "b.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"image id 2 \('b.png'\).*cannot be decoded"):
        validate_coco_dataset(json_file, images, decode_images=True).raise_if_errors()


def test_degenerate_polygons_are_skipped_counted_and_logged(tmp_path, caplog):
    dataset = _dataset()
    dataset["annotations"][0]["segmentation"] = [[1, 1, 11, 1]]  # 2 points
    dataset["annotations"][1]["segmentation"] = [[5, 5, 10, 5, 15, 5]]  # collinear: zero area
    json_file, images = _write(tmp_path, dataset)
    report = validate_coco_dataset(json_file, images)
    report.raise_if_errors()
    assert report.skipped == {10: "polygon with fewer than 3 points", 20: "mask of zero area"}
    with caplog.at_level("WARNING"):
        report.log_skips()
    assert caplog.messages == [
        f"{json_file}: skipping 2 unusable annotation(s) (1 polygon with fewer than 3 points, "
        "1 mask of zero area); ids: [10, 20]"
    ]


def test_skipped_annotations_do_not_reach_training(tmp_path):
    from seg_d2.data import register_coco_dataset

    from detectron2.data import DatasetCatalog

    dataset = _dataset()
    dataset["annotations"][1]["segmentation"] = [[5, 5, 10, 5, 15, 5]]
    json_file, images = _write(tmp_path, dataset)
    register_coco_dataset("validate_skip", json_file, images)
    try:
        records = {r["image_id"]: r for r in DatasetCatalog.get("validate_skip")}
        assert [a["id"] for a in records[1]["annotations"]] == [10]
        assert records[2]["annotations"] == []
    finally:
        unregister("validate_skip")


def test_registered_dataset_refuses_to_load_with_errors(tmp_path):
    from seg_d2.data import register_coco_dataset

    from detectron2.data import DatasetCatalog

    dataset = _dataset()
    dataset["annotations"][0]["category_id"] = 5
    json_file, images = _write(tmp_path, dataset)
    register_coco_dataset("validate_refuse", json_file, images)
    try:
        with pytest.raises(DatasetError, match="annotation id 10 of image id 1: category id 5"):
            DatasetCatalog.get("validate_refuse")
    finally:
        unregister("validate_refuse")


def test_command_prints_a_summary(tmp_path, capsys):
    json_file, images = _write(tmp_path, _dataset())
    assert main([str(json_file), str(images), "--decode"]) == 0
    out = capsys.readouterr().out
    assert "instances: box" in out and "| images" in out and "mask area" in out


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "exif"])
def test_unusual_images_are_sized_as_detectron2_reads_them(tmp_path, mode):
    from detectron2.data.detection_utils import read_image

    json_file, images = _write(tmp_path, _dataset())
    if mode == "exif":
        image = Image.new("RGB", (H, W))  # stored portrait, shown landscape
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(images / "b.jpg", exif=exif)
    else:
        Image.new(mode, (W, H)).save(images / "b.png")
    dataset = _dataset()
    if mode == "exif":
        dataset["images"][1]["file_name"] = "b.jpg"
    json_file.write_text(json.dumps(dataset))
    validate_coco_dataset(json_file, images, decode_images=True).raise_if_errors()
    name = dataset["images"][1]["file_name"]
    assert read_image(str(images / name), format="BGR").shape == (H, W, 3)


def test_sixteen_bit_images_keep_their_contrast(tmp_path):
    from seg_d2.data.image_io import read_image

    ramp = (np.arange(16 * 16).reshape(16, 16) * 256).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    image = read_image(str(tmp_path / "ramp.png"), format="BGR")
    assert image.shape == (16, 16, 3) and image.dtype == np.uint8
    assert np.array_equal(image[..., 0], (ramp >> 8).astype(np.uint8))


@pytest.mark.parametrize("count", [1, 20, 21, 22])
def test_problem_lists_show_twenty_and_count_the_rest(count):
    errors = [f"problem {k}" for k in range(count)]
    shown = "".join(f"\n  problem {k}" for k in range(min(count, 20)))
    more = {21: "\n  ... and 1 more", 22: "\n  ... and 2 more"}.get(count, "")
    assert listed_problems(errors, "in x.json") == f"{count} problem(s) in x.json:{shown}{more}"


def test_the_summary_counts_every_kind_of_region(tmp_path):
    report = ValidationReport("x.json", num_images=3, num_crowd=1)
    report.instances_per_class.update({"cell": 2, "box": 1})
    report.stuff_regions_per_class.update({"sky": 3})
    report.mask_areas = [10, 20, 30, 40, 50]
    report.skipped[7] = "mask of zero area"
    report.errors.append("bad")
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in report.summary().splitlines()
    ]
    assert rows[:1] + rows[2:] == [
        ["", "x.json"],
        ["images", "3"],
        ["instances: box", "1"],
        ["instances: cell", "2"],
        ["stuff regions: sky", "3"],
        ["crowd regions", "1"],
        ["mask area min/25%/50%/75%/max", "10 / 20 / 30 / 40 / 50"],
        ["skipped annotations", "1"],
        ["errors", "1"],
    ]
    assert "| 0 / 0 / 0 / 0 / 0" in ValidationReport("empty.json").summary()


def test_command_prints_errors_and_skips_and_fails(tmp_path, capsys):
    dataset = _dataset()
    dataset["annotations"][0]["category_id"] = 5
    dataset["annotations"][1]["segmentation"] = [[5, 5, 10, 5, 15, 5]]
    json_file, images = _write(tmp_path, dataset)
    assert main([str(json_file), str(images)]) == 1
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[-2].startswith(
        f"error: {json_file}: annotation id 10 of image id 1: category id 5"
    )
    assert lines[-1] == "skipped: annotation id 20: mask of zero area"
    assert printed.err == ""
    (tmp_path / "broken.json").write_text("{")
    assert main([str(tmp_path / "broken.json"), str(images)]) == 1
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.startswith(
        f"{tmp_path / 'broken.json'}: cannot read the COCO JSON:"
    )


def test_a_wrong_image_folder_is_one_error_not_one_per_image(tmp_path):
    dataset = _dataset()
    dataset["images"] += [
        {"id": i, "file_name": f"{i}.png", "height": H, "width": W} for i in range(3, 9)
    ]
    json_file, _ = _write(tmp_path, dataset)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    report = validate_coco_dataset(json_file, elsewhere)
    assert report.errors == [
        f"{json_file}: 8 of 8 image files are missing under {elsewhere} (the first: 'a.png'): "
        "is it the image folder of this JSON?"
    ]


@pytest.mark.parametrize(
    "coordinates, finite",
    [
        ([1, 2.5, 0, 7], True),
        ([1e308, 1e308, 0, 0], True),  # their sum overflows; each is finite
        ([np.float64(3.0), 4], True),  # a converter's NumPy floats
        ([1, float("nan")], False),
        ([float("inf"), float("-inf")], False),
        ([True, 1], False),
        (["1", 2], False),
        ([None, 2], False),
    ],
)
def test_polygon_coordinates_are_finite_numbers_checked_in_one_pass(coordinates, finite):
    assert _finite_numbers(coordinates) is finite


@pytest.mark.parametrize(
    "text",
    [
        '{"images": [{"id": 1, "width": NaN}]}',  # orjson refuses what json reads
        '{"images": [{"file_name": "\\ud800.png"}]}',  # a lone surrogate
        '{"images": [{"id": 1, "file_name": "\\u00e9.png", "width": 0.5}]}',
    ],
)
def test_the_json_reads_as_the_json_module_reads_it(tmp_path, text):
    from seg_d2.data.validate import read_coco_json

    path = tmp_path / "instances.json"
    path.write_text(text, encoding="utf-8")
    read = read_coco_json(path)
    assert json.dumps(read) == json.dumps(json.loads(text))


def test_an_id_past_64_bits_is_named_not_an_integer(tmp_path):
    dataset = _dataset()
    dataset["annotations"][0]["id"] = 2**70  # read as a float, as orjson reads such numbers
    assert "annotation #0 of the list: 'id' must be an integer, not 1.1805916207174113e+21" in (
        _errors(tmp_path, dataset)
    )


def _many_kinds_of_annotation():
    """Two image sizes; overlapping polygons of one annotation; a zero-area sliver; a
    2-point polygon; an RLE; a box outside; a decoding error; a missing file."""
    dataset = _dataset()
    dataset["images"] += [
        {"id": 3, "file_name": "wide.png", "height": H, "width": 2 * W},
        {"id": 4, "file_name": "broken.png", "height": H, "width": W},
        {"id": 5, "file_name": "gone.png", "height": H, "width": W},
    ]
    rle = {"size": [H, 2 * W], "counts": [5, 10, H * 2 * W - 15]}
    dataset["annotations"] += [
        {**dataset["annotations"][0], "id": 30, "image_id": 3},
        {
            **dataset["annotations"][0],
            "id": 31,
            "image_id": 3,
            "segmentation": [[1, 1, 11, 1, 11, 11, 1, 11], [6, 6, 16, 6, 16, 16, 6, 16]],
        },
        {**dataset["annotations"][0], "id": 32, "segmentation": [[1, 1, 9, 1.1, 1, 1.2]]},
        {**dataset["annotations"][0], "id": 33, "segmentation": [[1, 1, 5, 5]]},
        {**dataset["annotations"][0], "id": 34, "image_id": 3, "segmentation": rle},
        {**dataset["annotations"][0], "id": 35, "bbox": [35, 1, 10, 10]},
    ]
    return dataset


def _validated(tmp_path, dataset):
    json_file, images = _write(tmp_path, dataset, images=("a.png", "b.png"))
    Image.new("RGB", (2 * W, H)).save(images / "wide.png")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    report = validate_coco_dataset(json_file, images)
    counts = (report.num_crowd, report.instances_per_class, report.stuff_regions_per_class)
    return report.errors, report.skipped, report.mask_areas, counts


def test_validation_in_several_processes_finds_what_one_process_finds(tmp_path, monkeypatch):
    from seg_d2.data import validate

    dataset = _many_kinds_of_annotation()
    monkeypatch.setattr(validate, "usable_processes", lambda: 1)
    alone = _validated(tmp_path, dataset)
    errors, skipped, areas, counts = alone
    assert len(errors) == 3 and "annotation id 35 " in errors[2] and "missing" in errors[1]
    assert skipped == {32: "mask of zero area", 33: "polygon with fewer than 3 points"}
    assert areas == [100, 100, 100, 175, 10]  # ids 10, 20, 30, 31 (overlapping), 34
    pools = []

    class CountedPool(validate.ProcessPoolExecutor):
        def __init__(self, processes):
            pools.append(processes)
            super().__init__(processes)

    monkeypatch.setattr(validate, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(validate, "usable_processes", lambda: 2)
    monkeypatch.setattr(validate, "_IMAGES_PER_JOB", 2)
    monkeypatch.setattr(validate, "_ANNOTATIONS_PER_JOB", 2)
    assert _validated(tmp_path, dataset) == alone
    assert pools == [2]


def test_the_cyclic_garbage_collector_is_paused_inside_and_restored_after(tmp_path, monkeypatch):
    import gc

    from seg_d2.data import validate

    assert gc.isenabled()
    with pytest.raises(KeyError), validate.cyclic_gc_paused():
        assert not gc.isenabled()
        raise KeyError
    assert gc.isenabled()
    gc.disable()
    try:
        with validate.cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
    seen = []
    count = validate._count_measured
    monkeypatch.setattr(
        validate, "_count_measured", lambda *args: seen.append(gc.isenabled()) or count(*args)
    )
    json_file, images = _write(tmp_path, _dataset())
    validate_coco_dataset(json_file, images).raise_if_errors()
    assert seen == [False] and gc.isenabled()


def test_the_json_is_parsed_with_the_cyclic_garbage_collector_paused(tmp_path, monkeypatch):
    import gc
    import types

    from seg_d2.data import validate

    import orjson

    seen = []

    def loads(text):
        seen.append(gc.isenabled())
        return orjson.loads(text)

    fake = types.SimpleNamespace(loads=loads, JSONDecodeError=orjson.JSONDecodeError)
    monkeypatch.setattr(validate, "orjson", fake)
    path = tmp_path / "instances.json"
    path.write_text('{"images": []}')
    assert validate.read_coco_json(path) == {"images": []}
    assert seen == [False] and gc.isenabled()
