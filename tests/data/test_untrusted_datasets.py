"""A dataset file from elsewhere: its image paths cannot make seg_d2 write outside its
folders, two images never share a derived label map, and every structural mistake is a
located error from validation and from registration, never a traceback."""

import copy
import json
import os
import re

from seg_d2.data import register_coco_dataset
from seg_d2.data.coco import ensure_derived_files
from seg_d2.data.validate import validate_coco_dataset
from seg_d2.errors import DatasetError

import numpy as np
import pytest
from dataset_changes import remove_at, set_at
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from helpers import unregister
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

H, W = 24, 32


def _annotation(annotation_id, image_id, x):
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "bbox": [x, 2, 8, 8],
        "area": 64,
        "segmentation": [[x, 2, x + 8, 2, x + 8, 10, x, 10]],
    }


def _dataset(file_names=("a.png", "b.png")):
    return {
        "images": [
            {"id": i, "file_name": name, "height": H, "width": W}
            for i, name in enumerate(file_names, 1)
        ],
        "annotations": [_annotation(10 * i, i, 2 + 10 * (i - 1)) for i in (1, 2)],
        "categories": [{"id": 1, "name": "box"}],
    }


def _write(folder, dataset, images=("a.png", "b.png")):
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for name in images:
        Image.new("RGB", (W, H), (40, 80, 120)).save(folder / "images" / name)
    json_file = folder / "instances.json"
    json_file.write_text(json.dumps(dataset))
    return json_file, folder / "images"


@pytest.fixture
def registered(tmp_path, monkeypatch):
    monkeypatch.setenv("SEG_D2_CACHE_DIR", str(tmp_path / "cache"))
    names = []

    def register(name, json_file, image_root):
        register_coco_dataset(name, json_file, image_root)
        names.append(name)
        return name

    yield register
    for name in names:
        unregister(name)


@pytest.mark.parametrize("kind", ["absolute", "climbing"])
def test_an_image_path_outside_the_image_folder_is_refused_and_nothing_is_written(
    tmp_path, registered, kind
):
    victim = tmp_path / "precious.png"
    Image.new("RGB", (W, H), (200, 10, 10)).save(victim)
    before = victim.read_bytes()
    outside = str(victim) if kind == "absolute" else "../precious.png"
    json_file, images = _write(tmp_path / "data", _dataset(("a.png", outside)))
    report = validate_coco_dataset(json_file, images)
    assert any(
        f"image id 2 ({outside!r}): 'file_name'" in error and "image folder" in error
        for error in report.errors
    ), report.errors
    name = registered("outside", json_file, images)
    for variant in (name, name + "_sem_seg", name + "_panoptic"):
        with pytest.raises(DatasetError, match=rf"image id 2 \({outside!r}\): 'file_name'"):
            DatasetCatalog.get(variant)
    assert victim.read_bytes() == before


def test_twin_images_with_two_extensions_get_label_maps_of_their_own(tmp_path, registered):
    dataset = _dataset(("a.png", "a.jpg"))
    json_file, images = _write(tmp_path, dataset, images=("a.png", "a.jpg"))
    name = registered("twins", json_file, images)
    records = DatasetCatalog.get(name + "_sem_seg")
    label_files = [record["sem_seg_file_name"] for record in records]
    assert [os.path.basename(f) for f in label_files] == ["a.png.png", "a.jpg.png"]
    labels = [np.asarray(Image.open(f)) for f in label_files]
    # each image's own box: image 1 at x 2..9, image 2 at x 12..19 (thing label 0)
    assert labels[0][5, 5] == 0 and labels[0][5, 15] != 0
    assert labels[1][5, 15] == 0 and labels[1][5, 5] != 0
    separated = DatasetCatalog.get(name + "_panoptic_separated")
    assert len({record["sem_seg_file_name"] for record in separated}) == 2
    ensure_derived_files(name + "_panoptic")
    with open(MetadataCatalog.get(name + "_panoptic").panoptic_json) as f:
        assert [a["file_name"] for a in json.load(f)["annotations"]] == ["a.png.png", "a.jpg.png"]


# Each structural mistake -> (the change, what the located error says).
MALFORMED = {
    "missing_bbox": (
        remove_at(("annotations", 1, "bbox")),
        "annotation id 20 of image id 2: 'bbox' is missing",
    ),
    "garbage_rle_counts": (
        set_at(("annotations", 1, "segmentation"), {"size": [H, W], "counts": "garbage!!"}),
        "annotation id 20 of image id 2: RLE counts cannot be decoded",
    ),
    "short_rle_counts": (
        set_at(("annotations", 1, "segmentation"), {"size": [H, W], "counts": "0"}),
        "annotation id 20 of image id 2: RLE counts cannot be decoded",
    ),
    "rle_counts_not_summing": (
        set_at(("annotations", 1, "segmentation"), {"size": [H, W], "counts": [10, 20]}),
        f"RLE counts cover 30 pixels, not {H}\\*{W}",
    ),
    "flat_segmentation": (
        set_at(("annotations", 1, "segmentation"), [12, 2, 20, 2, 20, 10]),
        "annotation id 20 of image id 2: 'segmentation' must be a list of polygons",
    ),
    "width_as_string": (
        set_at(("images", 1, "width"), str(W)),
        f"image id 2 \\('b.png'\\): 'width' must be a positive integer, not '{W}'",
    ),
    "image_without_id": (remove_at(("images", 1, "id")), "image #1 of the list: 'id' is missing"),
    "category_without_name": (
        remove_at(("categories", 0, "name")),
        "category id 1: 'name' must be a non-empty string",
    ),
    "top_level_list": (lambda dataset: [dataset], "the top level must be a JSON object"),
    "negative_area": (
        set_at(("annotations", 1, "area"), -1),
        "annotation id 20 of image id 2: 'area' must be a number of pixels, not -1",
    ),
    "odd_polygon": (
        set_at(("annotations", 1, "segmentation"), [[12, 2, 20, 2, 20, 10, 12]]),
        "annotation id 20 of image id 2: polygon 0 has an odd number of coordinates \\(7\\)",
    ),
    "annotation_not_an_object": (
        set_at(("annotations", 1), 7),
        "annotation #1 of the list: is not a JSON object",
    ),
    "images_not_a_list": (
        set_at(("images",), {"1": "a.png"}),
        "'images' must be a list, not a dict",
    ),
    "iscrowd_not_a_flag": (
        set_at(("annotations", 1, "iscrowd"), "no"),
        "'iscrowd' must be 0 or 1, not 'no'",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_each_structural_mistake_is_a_located_error_in_validation_and_registration(
    tmp_path, registered, case
):
    change, message = MALFORMED[case]
    json_file, images = _write(tmp_path, change(_dataset()))
    report = validate_coco_dataset(json_file, images)
    assert report.errors, case
    assert any(re.search(message, error) for error in report.errors), report.errors
    assert all(error.startswith(f"{json_file}: ") for error in report.errors)
    with pytest.raises(DatasetError, match=message):
        name = registered(f"malformed_{case}", json_file, images)
        DatasetCatalog.get(name)


# --- generated mistakes -------------------------------------------------------------

_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.integers(-2, 40), max_size=9),
    st.lists(st.lists(st.floats(-5, 40), max_size=9), max_size=2),
    st.dictionaries(st.sampled_from(["size", "counts"]), st.integers(0, 30), max_size=2),
)
_POLYGON = st.lists(st.tuples(st.floats(0, W), st.floats(0, H)), min_size=1, max_size=5).map(
    lambda points: [[c for point in points for c in point]]
)
# Values a field may well hold: some right, some wrong in ways only a check of meaning finds.
_PLAUSIBLE = {
    "id": st.integers(1, 3),
    "image_id": st.integers(1, 3),
    "category_id": st.integers(0, 2),
    "file_name": st.sampled_from(["a.png", "b.png", "c.png", "./b.png", "../b.png", "/b.png"]),
    "width": st.sampled_from([W, W + 1]),
    "height": st.sampled_from([H, H - 1]),
    "bbox": st.lists(st.floats(0, 20), min_size=4, max_size=4),
    "segmentation": st.one_of(
        _POLYGON,
        st.builds(lambda n: {"size": [H, W], "counts": [n, H * W - n]}, st.integers(0, H * W)),
        st.sampled_from([{"size": [H, W], "counts": "0"}, {"size": [W, H], "counts": [H * W]}]),
    ),
    "iscrowd": st.sampled_from([0, 1]),
    "area": st.floats(0, 100),
    "name": st.text(min_size=1, max_size=3),
    "isthing": st.sampled_from([0, 1]),
}
_FIELDS = {
    "images": ["id", "file_name", "width", "height"],
    "annotations": ["id", "image_id", "category_id", "bbox", "segmentation", "iscrowd", "area"],
    "categories": ["id", "name", "isthing"],
}


@st.composite
def malformed_datasets(draw):
    dataset = _dataset()
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(sorted(_FIELDS)))
        item = draw(st.integers(0, len(dataset[section]) - 1))
        field = draw(st.sampled_from(_FIELDS[section]))
        change = draw(st.sampled_from(["remove", "any", "plausible", "plausible"]))
        if change == "remove":
            dataset[section][item].pop(field, None)
        else:
            values = _ANY_VALUE if change == "any" else _PLAUSIBLE[field]
            dataset[section][item][field] = draw(values)
    return dataset


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dataset=malformed_datasets())
def test_generated_mistakes_are_refused_by_name_or_train(tmp_path_factory, dataset):
    """Each generated dataset either validates, and then every record goes through
    detectron2's training mapper steps (masks as bitmasks, as seg_d2's configs train
    them), or is refused with errors that name the JSON."""
    folder = tmp_path_factory.mktemp("generated")
    json_file, images = _write(folder, copy.deepcopy(dataset))
    report = validate_coco_dataset(json_file, images)
    if report.errors:
        assert all(error.startswith(f"{json_file}: ") for error in report.errors)
        return
    name = f"generated_{folder.name}"
    cache, os.environ["SEG_D2_CACHE_DIR"] = os.environ.get("SEG_D2_CACHE_DIR"), str(folder / "c")
    register_coco_dataset(name, json_file, images)
    try:
        for variant in (name, name + "_sem_seg"):
            for record in DatasetCatalog.get(variant):
                image = utils.read_image(record["file_name"], "RGB")
                if "annotations" in record:
                    annotations = [
                        utils.transform_instance_annotations(
                            a, T.TransformList([]), image.shape[:2]
                        )
                        for a in record["annotations"]
                    ]
                    utils.annotations_to_instances(annotations, image.shape[:2], "bitmask")
                else:
                    assert Image.open(record["sem_seg_file_name"]).size == (W, H)
    finally:
        unregister(name)
        if cache is None:
            del os.environ["SEG_D2_CACHE_DIR"]
        else:
            os.environ["SEG_D2_CACHE_DIR"] = cache
