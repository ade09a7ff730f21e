"""The COCO-size data the scale benchmark generates is COCO-shaped and valid."""

import json

from seg_d2.data.validate import validate_coco_dataset

import numpy as np
from PIL import Image

import benchmarks.results_files
from benchmarks import scale


def test_generated_data_has_cocos_shape_and_validates(tmp_path):
    json_file = scale.generate(str(tmp_path), 300, seed=1)
    dataset = json.loads(open(json_file).read())
    images, annotations = dataset["images"], dataset["annotations"]
    assert len(images) == 300
    assert [c["id"] for c in dataset["categories"]] == scale.COCO_CATEGORY_IDS
    assert len(scale.COCO_CATEGORY_IDS) == 80
    assert 6.3 < len(annotations) / len(images) < 8.3  # COCO's 7.3 instances per image
    crowd = [a for a in annotations if a["iscrowd"]]
    assert 0 < len(crowd) < 0.03 * len(annotations)
    sizes = {image["id"]: (image["height"], image["width"]) for image in images}
    for region in crowd:  # uncompressed RLE covering the image exactly, its box filled
        height, width = sizes[region["image_id"]]
        assert region["segmentation"]["size"] == [height, width]
        assert sum(region["segmentation"]["counts"]) == height * width
        x, y, w, h = region["bbox"]
        assert region["area"] == w * h
    assert all(640 in size for size in sizes.values())
    for image in images[:5]:  # each file of its stated size
        with Image.open(tmp_path / "images" / image["file_name"]) as file:
            assert file.size == (image["width"], image["height"])
    report = validate_coco_dataset(json_file, str(tmp_path / "images"))
    assert report.errors == []
    polygons = [a for a in annotations if not a["iscrowd"]]
    areas = np.array([a["area"] for a in polygons])
    assert (areas > 0).all()
    assert 8 <= min(len(a["segmentation"][0]) // 2 for a in polygons)
    assert max(len(a["segmentation"][0]) // 2 for a in polygons) <= 40


def test_the_same_seed_generates_the_same_json(tmp_path):
    first = scale.generate(str(tmp_path / "a"), 20, seed=3)
    second = scale.generate(str(tmp_path / "b"), 20, seed=3)
    assert open(first).read() == open(second).read()


def test_at_1000_images_each_step_is_measured_side_by_side(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmarks.results_files, "RESULTS", str(tmp_path / "results"))
    argv = ["--sizes", "1000", "--derive-sizes", "--work", str(tmp_path / "work")]
    markdown = scale.main(argv)
    runs = json.loads((tmp_path / "results" / "scale_coco.json").read_text())["runs"]
    assert [(run["images"], run["step"]) for run in runs] == [(1000, s) for s in scale.STEPS[:3]]
    load, first, later = runs
    for run in (first, later):
        assert run["time_ratio"] == run["seconds"] / load["seconds"]
        assert run["memory_ratio"] == run["peak_bytes"] / load["peak_bytes"]
    assert all(run["seconds"] > 0 and run["peak_bytes"] > 2**20 for run in runs)
    # 1,000 images are one job of image files and fewer polygons than one: no workers
    assert [run["workers_peak_bytes"] for run in runs] == [0, 0, 0]
    assert 6_300 < load["annotations"] < 8_300
    assert (
        open(markdown)
        .read()
        .rstrip()
        .endswith(
            f"headline: images = 1000; time ratio = {first['time_ratio']:.2f}; "
            f"memory ratio = {first['memory_ratio']:.2f}"
        )
    )
