"""Derived ground truth is a cache: outside a read-only dataset folder, where the user
says, and built once when several processes need it at the same time."""

import json
import multiprocessing
import os

from seg_d2.atomic_files import build_folder_once
from seg_d2.data import register_coco_dataset
from seg_d2.data.dense_ground_truth import derived_ground_truth_paths, derived_root
from seg_d2.data.masks import mask_to_rle

import numpy as np
import pytest
from helpers import unregister
from PIL import Image


def _dataset(folder):
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(os.path.join(folder, "a.png"))
    mask = np.zeros((32, 32), np.uint8)
    mask[4:20, 6:22] = 1
    dataset = {
        "images": [{"id": 1, "file_name": "a.png", "height": 32, "width": 32}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "area": int(mask.sum()),
                "bbox": [6, 4, 16, 16],
                "segmentation": mask_to_rle(mask),
            }
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    path = os.path.join(folder, "instances.json")
    with open(path, "w") as f:
        json.dump(dataset, f)
    return path


def test_beside_the_json_when_writable_and_no_cache_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("SEG_D2_CACHE_DIR", raising=False)
    json_file = _dataset(str(tmp_path / "data"))
    assert derived_root(json_file) == str(tmp_path / "data" / "instances_seg_d2")


def test_a_named_cache_folder_keeps_the_dataset_folder_untouched(tmp_path, monkeypatch):
    monkeypatch.setenv("SEG_D2_CACHE_DIR", str(tmp_path / "cache"))
    json_file = _dataset(str(tmp_path / "data"))
    before = sorted(os.listdir(tmp_path / "data"))
    register_coco_dataset("cached", json_file, tmp_path / "data")
    try:
        from detectron2.data import DatasetCatalog

        (record,) = DatasetCatalog.get("cached_sem_seg")
        DatasetCatalog.get("cached_panoptic")
    finally:
        unregister("cached")
    assert sorted(os.listdir(tmp_path / "data")) == before
    assert record["sem_seg_file_name"].startswith(str(tmp_path / "cache" / "instances-"))
    assert os.path.isfile(record["sem_seg_file_name"])


def test_a_read_only_dataset_folder_puts_the_cache_in_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("SEG_D2_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home_cache"))
    json_file = _dataset(str(tmp_path / "data"))
    writable = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda path, mode: False if path == str(tmp_path / "data") else writable(path, mode),
    )
    root = derived_root(json_file)
    assert root.startswith(str(tmp_path / "home_cache" / "seg_d2" / "derived" / "instances-"))
    other = _dataset(str(tmp_path / "other"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert derived_root(other) != derived_root(json_file)  # keyed by the JSON, not its name alone


def _build_slowly(folder, stamp, marker):
    def build(path):
        with open(marker, "a") as f:
            f.write(f"{os.getpid()}\n")
        with open(os.path.join(path, "data.txt"), "w") as f:
            f.write("done")

    return build_folder_once(folder, stamp, build)


def test_two_processes_starting_at_once_build_the_folder_once(tmp_path):
    folder, marker = str(tmp_path / "derived"), str(tmp_path / "builders.txt")
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        built = pool.starmap(_build_slowly, [(folder, "v1", marker)] * 2)
    assert sorted(built) == [False, True]
    assert open(marker).read().count("\n") == 1
    assert open(os.path.join(folder, "data.txt")).read() == "done"
    assert _build_slowly(folder, "v2", marker) is True  # another stamp: built anew
    assert sorted(os.listdir(tmp_path)) == ["builders.txt", "derived", "derived.lock"]


def _derive(json_file, cache):
    os.environ["SEG_D2_CACHE_DIR"] = cache
    from seg_d2.data.categories import ClassSpaces
    from seg_d2.data.coco import _CocoSource
    from seg_d2.data.validate import read_coco_json

    class_spaces = ClassSpaces.from_coco_categories(read_coco_json(json_file)["categories"])
    source = _CocoSource(json_file, os.path.dirname(json_file), class_spaces)
    return source.derive_pixels().sem_seg_root


def test_two_processes_deriving_pixels_at_once_agree(tmp_path):
    json_file = _dataset(str(tmp_path / "data"))
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        roots = pool.starmap(_derive, [(json_file, str(tmp_path / "cache"))] * 2)
    assert roots[0] == roots[1] and os.listdir(roots[0]) == ["a.png.png"]
    labels = np.asarray(Image.open(os.path.join(roots[0], "a.png.png")))
    assert labels[10, 10] == 0 and labels[0, 0] == 1  # the thing, then background


def test_derived_paths_are_stable_for_one_json(tmp_path, monkeypatch):
    monkeypatch.setenv("SEG_D2_CACHE_DIR", str(tmp_path / "cache"))
    json_file = _dataset(str(tmp_path / "data"))
    assert derived_ground_truth_paths(json_file) == derived_ground_truth_paths(
        os.path.relpath(json_file)
    )


def test_a_dataset_made_after_registration_derives_where_its_metadata_says(tmp_path, monkeypatch):
    """As shapes: registered before its folder exists, generated by ``prepare`` on first use."""
    from seg_d2.data.coco import ensure_derived_files

    from detectron2.data import MetadataCatalog

    monkeypatch.delenv("SEG_D2_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home_cache"))
    folder = str(tmp_path / "made" / "later")
    register_coco_dataset(
        "later",
        os.path.join(folder, "instances.json"),
        folder,
        categories=[{"id": 1, "name": "thing"}],
        prepare=lambda: _dataset(folder),
    )
    try:
        ensure_derived_files("later")
        ensure_derived_files("later_sem_seg")
        evaluation_json = MetadataCatalog.get("later").json_file
        sem_seg_root = MetadataCatalog.get("later_sem_seg").sem_seg_root
    finally:
        unregister("later")
    assert os.path.isfile(evaluation_json) and os.listdir(sem_seg_root) == ["a.png.png"]
    # The folder it would be made in is writable, so the cache sits beside the JSON.
    assert evaluation_json.startswith(os.path.join(folder, "instances_seg_d2"))


@pytest.mark.parametrize("chunk", [1, 2, 3, 10_000])
def test_json_is_written_a_chunk_at_a_time_and_ascii_as_json_dumps_writes_it(
    chunk, monkeypatch, tmp_path
):
    from seg_d2.data import dense_ground_truth

    monkeypatch.setattr(dense_ground_truth, "_JSON_CHUNK", chunk)
    lists = {
        "images": [{"id": i, "file_name": f"{i}.png"} for i in range(5)],
        "annotations": [],
        "categories": [{"id": 1, "name": 'a "b"', "area": 0.1}, {"id": 2, "name": "c"}],
    }
    lists["images"][3]["file_name"] = "é.png"
    lists["images"][1]["file_name"] = "\udcff.png"  # a byte not in UTF-8, surrogate-escaped
    path = tmp_path / "written.json"
    with open(path, "wb") as f:
        dense_ground_truth._dump_json(lists, f)
    text = path.read_bytes()
    assert text.isascii() and b"\\u00e9" in text and b"\\udcff" in text
    assert json.loads(text) == lists


def _files(folder):
    """{relative path: bytes} of every file under ``folder``."""
    return {
        os.path.relpath(os.path.join(root, name), folder): open(
            os.path.join(root, name), "rb"
        ).read()
        for root, _, names in os.walk(folder)
        for name in names
    }


def _generated(tmp_path, num_images=11):
    from benchmarks import scale

    return scale.generate(str(tmp_path / "data"), num_images, seed=2)


def _source(json_file):
    from seg_d2.data.categories import ClassSpaces
    from seg_d2.data.coco import _CocoSource
    from seg_d2.data.validate import read_coco_json

    class_spaces = ClassSpaces.from_coco_categories(read_coco_json(json_file)["categories"])
    return _CocoSource(json_file, os.path.join(os.path.dirname(json_file), "images"), class_spaces)


def test_chunks_painted_in_several_processes_give_the_files_one_process_gives(
    tmp_path, monkeypatch
):
    from seg_d2.data import dense_ground_truth

    json_file = _generated(tmp_path)
    monkeypatch.setenv("SEG_D2_CACHE_DIR", str(tmp_path / "one"))
    one = os.path.dirname(_source(json_file).derive_pixels().panoptic_json)
    monkeypatch.setattr(dense_ground_truth, "_CHUNK_IMAGES", 3)
    monkeypatch.setattr(dense_ground_truth, "usable_processes", lambda: 2)
    monkeypatch.setenv("SEG_D2_CACHE_DIR", str(tmp_path / "several"))
    several = os.path.dirname(_source(json_file).derive_pixels().panoptic_json)
    assert len(_files(one)) == 3 * 11 + 2  # three PNGs per image, panoptic.json, SOURCE
    assert _files(several) == _files(one)


def test_an_interrupted_derivation_goes_on_from_the_chunks_it_finished(tmp_path, monkeypatch):
    from seg_d2.data import dense_ground_truth

    json_file = _generated(tmp_path)
    monkeypatch.setenv("SEG_D2_CACHE_DIR", str(tmp_path / "whole"))
    whole = os.path.dirname(_source(json_file).derive_pixels().panoptic_json)
    monkeypatch.setenv("SEG_D2_CACHE_DIR", str(tmp_path / "resumed"))
    monkeypatch.setattr(dense_ground_truth, "_CHUNK_IMAGES", 3)
    monkeypatch.setattr(dense_ground_truth, "usable_processes", lambda: 1)
    paint, painted = dense_ground_truth._paint_chunk, []

    def interrupted_at_the_third(target, index, *args):
        if index == 2 and "interrupted" not in painted:
            painted.append("interrupted")
            raise KeyboardInterrupt
        painted.append(index)
        return paint(target, index, *args)

    monkeypatch.setattr(dense_ground_truth, "_paint_chunk", interrupted_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        _source(json_file).derive_pixels()
    root = os.path.dirname(dense_ground_truth.derived_ground_truth_paths(json_file).panoptic_json)
    assert sorted(os.listdir(f"{root}.building/chunks")) == ["0.json", "1.json"]
    resumed = os.path.dirname(_source(json_file).derive_pixels().panoptic_json)
    assert painted == [0, 1, "interrupted", 2, 3]
    assert _files(resumed) == _files(whole)
    assert not os.path.exists(f"{root}.building") and not os.path.exists(f"{root}.building.SOURCE")


def test_a_failed_derivation_leaves_nothing_and_another_jsons_partial_is_not_resumed(
    tmp_path, monkeypatch
):
    from seg_d2.data import dense_ground_truth

    json_file = _generated(tmp_path)
    monkeypatch.setenv("SEG_D2_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(dense_ground_truth, "_CHUNK_IMAGES", 3)
    monkeypatch.setattr(dense_ground_truth, "usable_processes", lambda: 1)
    paint, painted = dense_ground_truth._paint_chunk, []

    def failing_at(index, error):
        def chunk(target, i, *args):
            if i == index:
                raise error
            painted.append(i)
            return paint(target, i, *args)

        return chunk

    root = os.path.dirname(dense_ground_truth.derived_ground_truth_paths(json_file).panoptic_json)
    monkeypatch.setattr(dense_ground_truth, "_paint_chunk", failing_at(1, OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        _source(json_file).derive_pixels()
    assert sorted(os.listdir(os.path.dirname(root))) == ["pixels.lock"]
    monkeypatch.setattr(dense_ground_truth, "_paint_chunk", failing_at(1, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _source(json_file).derive_pixels()
    dataset = json.loads(open(json_file).read())
    dataset["annotations"].pop()
    with open(json_file, "w") as f:
        json.dump(dataset, f)
    painted.clear()
    monkeypatch.setattr(dense_ground_truth, "_paint_chunk", failing_at(-1, None))
    _source(json_file).derive_pixels()
    assert painted == [0, 1, 2, 3]  # the partial of the JSON before it changed is discarded


def _processes_in_a_daemon(queue):
    from seg_d2.data import dense_ground_truth

    queue.put(dense_ground_truth.usable_processes())


def test_a_daemon_paints_alone_and_another_process_with_its_cores():
    from seg_d2.data import dense_ground_truth

    assert dense_ground_truth.usable_processes() == len(os.sched_getaffinity(0))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    daemon = context.Process(target=_processes_in_a_daemon, args=(queue,), daemon=True)
    daemon.start()
    daemon.join()
    assert queue.get(timeout=10) == 1
