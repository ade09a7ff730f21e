"""The embedded shapes dataset: deterministic, exact and non-overlapping."""

import hashlib
import json

from seg_d2.data import shapes
from seg_d2.data.shapes import (
    SHAPES_CATEGORIES,
    SHAPES_SPLITS,
    generate_shapes_split,
    shapes_root,
)
from seg_d2.data.validate import validate_coco_dataset

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import unregister
from pycocotools import mask as mask_util


def _digest(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate_shapes_split(tmp_path / "a", "val", seed=3, num_images=4)
    generate_shapes_split(tmp_path / "b", "val", seed=4, num_images=4)
    generate_shapes_split(tmp_path / "b", "val", seed=3, num_images=4)  # over the other
    generate_shapes_split(tmp_path / "c", "val", seed=4, num_images=4)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


# Every number the README quotes was measured on these bytes (and opencv-python-headless's
# JPEG encoder, pinned in requirements.txt): a change to the generator must bump
# SHAPES_VERSION (older folders are then generated anew), re-measure, and update this.
FIRST_VAL_IMAGES_SHA256 = "d11a0af696c4dbc3cf63087f4951424000a50679e26fac209c1bba133d875e0a"


def test_the_generator_still_writes_the_data_the_readme_was_measured_on(tmp_path):
    assert SHAPES_SPLITS == {"train": (0, 300), "val": (1, 100)}
    generate_shapes_split(tmp_path, "val", seed=SHAPES_SPLITS["val"][0], num_images=12)
    assert _digest(tmp_path) == FIRST_VAL_IMAGES_SHA256


def test_masks_never_overlap_and_cover_the_image_with_stuff(tmp_path):
    generate_shapes_split(tmp_path, "val", seed=5, num_images=6)
    json_file = tmp_path / "annotations" / "instances_val.json"
    dataset = json.loads(json_file.read_text())
    validate_coco_dataset(json_file, tmp_path / "val", decode_images=True).raise_if_errors()
    things = {c["id"] for c in SHAPES_CATEGORIES if c["isthing"]}
    for image in dataset["images"]:
        annotations = [a for a in dataset["annotations"] if a["image_id"] == image["id"]]
        masks = np.stack([mask_util.decode(a["segmentation"]) for a in annotations]).astype(int)
        assert masks.sum(axis=0).max() == 1, f"overlapping masks in image {image['id']}"
        assert masks.sum() == image["height"] * image["width"]
        assert sum(a["category_id"] in things for a in annotations) >= 2
        assert all(a["area"] == int(mask_util.area(a["segmentation"])) for a in annotations)


def test_shapes_is_registered_with_all_three_tasks():
    for name in ("shapes_train", "shapes_val"):
        assert MetadataCatalog.get(name).thing_classes == ["circle", "triangle", "square", "star"]
        assert MetadataCatalog.get(name + "_sem_seg").stuff_classes == [
            "circle",
            "triangle",
            "square",
            "star",
            "sky",
            "ground",
        ]
        assert MetadataCatalog.get(name + "_panoptic").evaluator_type == "coco_panoptic_seg"
        assert name + "_panoptic" in DatasetCatalog.list()


def test_shapes_live_under_seg_d2_datasets_or_the_working_folders_datasets(monkeypatch, tmp_path):
    monkeypatch.setenv("SEG_D2_DATASETS", str(tmp_path))
    assert shapes_root() == str(tmp_path / "shapes")
    monkeypatch.delenv("SEG_D2_DATASETS")
    monkeypatch.chdir(tmp_path)
    assert shapes_root() == str(tmp_path / "datasets" / "shapes")


def test_registered_shapes_are_generated_where_registered_on_first_use(monkeypatch, tmp_path):
    monkeypatch.setattr(shapes, "SHAPES_SPLITS", {"train": (0, 2), "val": (1, 1)})
    for name in ("shapes_train", "shapes_val"):
        unregister(name)
    try:
        shapes.register_shapes(str(tmp_path))
        assert not (tmp_path / "val").exists()  # nothing is generated until a split is read
        (record,) = DatasetCatalog.get("shapes_val")
        assert record["file_name"] == str(tmp_path / "val" / "val_00000.jpg")
        assert len(DatasetCatalog.get("shapes_train")) == 2
        generate_shapes_split(tmp_path / "again", "val", seed=1, num_images=1)
        assert (tmp_path / "annotations" / "instances_val.json").read_bytes() == (
            tmp_path / "again" / "annotations" / "instances_val.json"
        ).read_bytes()
        assert MetadataCatalog.get("shapes_val").thing_classes == [
            "circle",
            "triangle",
            "square",
            "star",
        ]
    finally:
        for name in ("shapes_train", "shapes_val"):
            unregister(name)
        monkeypatch.undo()
        shapes.register_shapes()


def test_each_shape_stays_at_least_half_visible_under_the_later_ones():
    """_place_things' promise, checked on the masks it returns: each shape, less every
    shape drawn after it, keeps at least half its pixels and at least _MIN_AREA of them."""
    for seed in range(40):
        placed = shapes._place_things(np.random.default_rng(seed))
        masks = [mask for _, mask, _ in placed]
        assert len(masks) >= 1
        for index, mask in enumerate(masks):
            covered = np.zeros_like(mask)
            for later in masks[index + 1 :]:
                covered |= later
            visible = int((mask & ~covered).sum())
            assert mask.sum() >= shapes._MIN_AREA
            assert visible >= max(0.5 * mask.sum(), shapes._MIN_AREA), (seed, index)


def _square(top, left, height, width):
    mask = np.zeros((shapes.IMAGE_SIZE, shapes.IMAGE_SIZE), bool)
    mask[top : top + height, left : left + width] = True
    return mask


def test_a_new_shape_may_cover_an_earlier_one_down_to_exactly_its_bound():
    """The visibility bound is inclusive, on both of its terms (half the pixels, and
    _MIN_AREA), counting what the shapes drawn later already cover."""
    one_more_pixel = _square(19, 19, 1, 1)
    large = [(None, _square(0, 0, 20, 20), None)]  # 400 pixels: half of them is the bound
    assert shapes._keeps_placed_visible(large, _square(0, 0, 10, 20))  # 200 left
    assert not shapes._keeps_placed_visible(large, _square(0, 0, 10, 20) | one_more_pixel)
    small = [(None, _square(0, 0, 10, 20), None)]  # 200 pixels: _MIN_AREA (120) is the bound
    assert shapes._keeps_placed_visible(small, _square(0, 0, 4, 20))  # 120 left
    assert not shapes._keeps_placed_visible(small, _square(0, 0, 4, 20) | _square(9, 19, 1, 1))
    # a shape drawn later (120 pixels, all of them left) already covers 120 of the large one's
    layered = large + [(None, _square(14, 0, 6, 20), None)]
    assert shapes._keeps_placed_visible(layered, _square(0, 0, 4, 20))  # 200 left
    assert not shapes._keeps_placed_visible(layered, _square(0, 0, 4, 20) | _square(10, 0, 1, 1))
