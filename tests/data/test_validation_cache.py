"""A dataset validated once is not validated again by the next process, unless it changed."""

import json
import logging
import os

import seg_d2  # noqa: F401
from seg_d2.data import coco, register_coco_dataset
from seg_d2.data.validation_cache import cached_skips, keep_skips

import pytest
from detectron2.data import DatasetCatalog
from helpers import unregister
from PIL import Image

H, W = 20, 30
SQUARE = [[1, 1, 11, 1, 11, 11, 1, 11]]
TWO_POINTS = [[1, 1, 5, 5]]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "user_cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    monkeypatch.delenv("SEG_D2_CACHE_DIR", raising=False)
    return folder / "seg_d2" / "validated"


@pytest.fixture
def validations(monkeypatch):
    """The JSON files validated (each validation of a registered dataset)."""
    validated = []
    validate = coco.validate_coco_dataset

    def counted(json_file, *args, **kwargs):
        validated.append(json_file)
        return validate(json_file, *args, **kwargs)

    monkeypatch.setattr(coco, "validate_coco_dataset", counted)
    return validated


def _dataset_files(tmp_path, segmentations=(SQUARE, TWO_POINTS)):
    images = tmp_path / "data" / "images"
    images.mkdir(parents=True)
    dataset = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "box"}]}
    for index, segmentation in enumerate(segmentations, start=1):
        Image.new("RGB", (W, H)).save(images / f"{index}.png")
        dataset["images"].append(
            {"id": index, "file_name": f"{index}.png", "height": H, "width": W}
        )
        dataset["annotations"].append(
            {
                "id": 10 * index,
                "image_id": index,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [1, 1, 10, 10],
                "segmentation": segmentation,
            }
        )
    json_file = tmp_path / "data" / "instances.json"
    json_file.write_text(json.dumps(dataset))
    return json_file, images


def _instances(name, json_file, images):
    """The dataset's records as a new process gets them: registered anew, then loaded."""
    register_coco_dataset(name, json_file, images)
    try:
        return {
            r["image_id"]: [a["id"] for a in r["annotations"]] for r in DatasetCatalog.get(name)
        }
    finally:
        unregister(name)


def test_the_next_process_reuses_the_validation_and_its_skips(tmp_path, cache, validations, caplog):
    json_file, images = _dataset_files(tmp_path)
    with caplog.at_level(logging.WARNING, logger="seg_d2"):
        first = _instances("cached_first", json_file, images)
        second = _instances("cached_second", json_file, images)
    assert first == second == {1: [10], 2: []}  # the two-point polygon skipped both times
    assert validations == [str(json_file)]
    skip_lines = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert (
        skip_lines
        == [
            f"{json_file}: skipping 1 unusable annotation(s) (1 polygon with fewer than 3 "
            "points); ids: [20]"
        ]
        * 2
    )
    assert len(os.listdir(cache)) == 1
    assert cached_skips(json_file, images) == {20: "polygon with fewer than 3 points"}


def test_a_changed_json_or_image_listing_is_validated_again(tmp_path, cache, validations):
    json_file, images = _dataset_files(tmp_path)
    _instances("changed_a", json_file, images)
    dataset = json.loads(json_file.read_text())
    dataset["annotations"][1]["segmentation"] = SQUARE
    json_file.write_text(json.dumps(dataset))
    assert _instances("changed_b", json_file, images) == {1: [10], 2: [20]}
    os.remove(images / "2.png")
    with pytest.raises(seg_d2.errors.DatasetError, match="image file .*2.png is missing"):
        _instances("changed_c", json_file, images)
    assert len(validations) == 3


def test_a_dataset_with_errors_is_never_kept(tmp_path, cache, validations):
    json_file, images = _dataset_files(tmp_path)
    dataset = json.loads(json_file.read_text())
    dataset["annotations"][0]["category_id"] = 7
    json_file.write_text(json.dumps(dataset))
    for name in ("bad_a", "bad_b"):
        with pytest.raises(seg_d2.errors.DatasetError, match="category id 7"):
            _instances(name, json_file, images)
    assert len(validations) == 2
    assert not cache.exists()


@pytest.mark.parametrize(
    "content", ["not json", "{}", "[[10, 1]]", '[["10", "why"]]', '[[true, "why"]]']
)
def test_a_cache_entry_not_written_by_seg_d2_means_validating_again(tmp_path, cache, content):
    json_file, images = _dataset_files(tmp_path)
    keep_skips(json_file, images, {20: "polygon with fewer than 3 points"})
    (entry,) = cache.iterdir()
    entry.write_text(content)
    assert cached_skips(json_file, images) is None


def test_an_unwritable_cache_is_a_note_not_a_failure(tmp_path, cache, validations, caplog):
    json_file, images = _dataset_files(tmp_path)
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the folder would be")
    with caplog.at_level(logging.INFO, logger="seg_d2"):
        assert _instances("uncached", json_file, images) == {1: [10], 2: []}
    assert any(f"validation of {json_file} not cached" in r.getMessage() for r in caplog.records)
