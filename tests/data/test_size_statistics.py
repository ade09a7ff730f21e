"""seg-d2 suggest's rule proposes what the hand-made configs chose: on the real nuclei's
sizes the nuclei config's test size, anchors, detections and proposals, on shapes the
demo's own."""

import json

import seg_d2
from seg_d2.commands.suggest import DEMO_CONFIG, as_yaml
from seg_d2.commands.suggest import main as suggest
from seg_d2.data.shapes import SHAPES_SPLITS, generate_shapes_split
from seg_d2.data.size_statistics import size_statistics, suggested_settings
from seg_d2.errors import DatasetError

import pytest
import yaml
from detectron2.config import CfgNode
from helpers import MASK_RCNN, REPO

NUCLEI = "configs/nuclei/mask_rcnn_R18_FPN.yaml"
SUGGESTED_KEYS = (
    "INPUT.MIN_SIZE_TEST",
    "INPUT.MAX_SIZE_TEST",
    "MODEL.ANCHOR_GENERATOR.SIZES",
    "TEST.DETECTIONS_PER_IMAGE",
    "MODEL.RPN.POST_NMS_TOPK_TEST",
    "MODEL.RPN.PRE_NMS_TOPK_TEST",
)


def _value(cfg, key):
    for name in key.split("."):
        cfg = cfg[name]
    return cfg


def _coco_from_box_sizes(path, box_sizes_file):
    """A COCO JSON with the images and box sizes of ``box_sizes_file``."""
    with open(box_sizes_file) as f:
        listed = json.load(f)["images"]
    images, annotations = [], []
    for image_id, (height, width, sizes) in enumerate(listed, 1):
        images.append(
            {"id": image_id, "file_name": f"{image_id}.png", "height": height, "width": width}
        )
        for w, h in zip(sizes[::2], sizes[1::2]):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "bbox": [0, 0, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "segmentation": [[0, 0, w, 0, w, h]],
                }
            )
    categories = [{"id": 1, "name": "nucleus"}]
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path


@pytest.fixture(scope="module")
def nuclei_json(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nuclei_sizes")
    return _coco_from_box_sizes(
        folder / "nuclei_train.json", f"{REPO}/tests/data/nuclei_train_box_sizes.json"
    )


def test_on_the_real_nuclei_it_proposes_the_nuclei_configs_values(nuclei_json):
    settings, small = suggested_settings(
        size_statistics(nuclei_json), seg_d2.load_config(MASK_RCNN)
    )
    nuclei = seg_d2.load_config(f"{REPO}/{NUCLEI}")
    for key in SUGGESTED_KEYS:
        assert settings[key] == _value(nuclei, key), key
    assert 8 <= small < 9  # the smallest anchor's size, reached at 384 px and not at 352
    assert settings["MODEL.ANCHOR_GENERATOR.SIZES"][0] == [8]


def test_on_shapes_it_proposes_the_demos_own_values(tmp_path):
    generate_shapes_split(tmp_path, "train", *SHAPES_SPLITS["train"])
    demo = seg_d2.load_config(MASK_RCNN)
    settings, _ = suggested_settings(
        size_statistics(tmp_path / "annotations" / "instances_train.json"), demo
    )
    for key in SUGGESTED_KEYS + ("INPUT.MIN_SIZE_TRAIN", "INPUT.MAX_SIZE_TRAIN"):
        assert settings[key] == _value(demo, key), key


def test_the_rule_follows_the_data(tmp_path):
    """Objects half the size take the test size up until they reach 8 px; one more
    instance than a multiple of 50 in the most crowded image takes the next multiple."""
    sizes = tmp_path / "sizes.json"
    crowded = [[4.0, 4.0]] * 50
    sizes.write_text(json.dumps({"images": [[200, 200, [v for box in crowded for v in box]]]}))
    statistics = size_statistics(_coco_from_box_sizes(tmp_path / "x.json", sizes))
    settings, small = suggested_settings(statistics, seg_d2.load_config(MASK_RCNN))
    assert settings["INPUT.MIN_SIZE_TEST"] == 416  # 4 px x 416/200 = 8.3 px; at 384, 7.7
    assert settings["INPUT.MAX_SIZE_TEST"] == round(512 * 416 / 192)
    assert small == pytest.approx(4 * 416 / 200)
    assert settings["MODEL.ANCHOR_GENERATOR.SIZES"] == [[8], [16], [32], [64], [128]]
    assert settings["TEST.DETECTIONS_PER_IMAGE"] == 100  # 50 instances: above 50
    assert settings["MODEL.RPN.POST_NMS_TOPK_TEST"] == 250  # 2.5 x 100
    assert statistics.most_crowded == (50, "1.png")


def test_the_fragment_merges_into_a_config_and_is_written(nuclei_json, tmp_path, capsys):
    output = tmp_path / "suggested.yaml"
    settings = suggest([str(nuclei_json), "--config-file", MASK_RCNN, "--output", str(output)])
    assert "375 instances: " in capsys.readouterr().out
    cfg = seg_d2.load_config(MASK_RCNN)
    cfg.merge_from_other_cfg(CfgNode(yaml.safe_load(output.read_text())))
    for key, value in settings.items():
        assert _value(cfg, key) == (tuple(value) if isinstance(value, tuple) else value), key
    assert output.read_text() == as_yaml(settings)


def test_suggest_prints_its_table_then_the_fragment_and_starts_from_the_demos_config(
    nuclei_json, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the default config is found from any folder
    output = tmp_path / "suggested.yaml"
    settings = suggest([str(nuclei_json), "--output", str(output)])
    demo = seg_d2.load_config(f"{REPO}/{DEMO_CONFIG}")
    expected, small = suggested_settings(size_statistics(nuclei_json), demo)
    assert settings == expected
    table, fragment = capsys.readouterr().out.split("\nproposed (merge into your config):\n")
    header, rule, *rows = table.splitlines()
    assert [cell.strip() for cell in header.split("|")[1:3]] == ["", str(nuclei_json)]
    assert rule.startswith("|---")
    statistics = size_statistics(nuclei_json)
    count, file_name = statistics.most_crowded
    assert [[cell.strip() for cell in row.split("|")[1:3]] for row in rows] == [
        ["images with instances", str(len(statistics.image_sizes))],
        ["instances", str(sum(map(len, statistics.object_sizes)))],
        ["most crowded image", f"{count} instances: {file_name}"],
        ["small objects (10th percentile) at the test size", f"{small:.1f} px"],
    ]
    assert fragment == f"{as_yaml(settings)}\nwrote {output}\n"


def test_a_malformed_dataset_is_named(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"images": [{"id": 1}], "annotations": [], "categories": []}))
    with pytest.raises(DatasetError, match=rf"{broken}: image id 1 \(None\): 'width' must be"):
        size_statistics(broken)


def test_the_fragment_is_nested_yaml_sorted_with_lists_inline():
    settings = {
        "TEST.DETECTIONS_PER_IMAGE": 400,
        "MODEL.ANCHOR_GENERATOR.SIZES": [[8], [16]],
        "INPUT.MIN_SIZE_TEST": (384, 416),
    }
    assert as_yaml(settings) == (
        "INPUT:\n  MIN_SIZE_TEST: [384, 416]\n"
        "MODEL:\n  ANCHOR_GENERATOR:\n    SIZES:\n    - [8]\n    - [16]\n"
        "TEST: {DETECTIONS_PER_IMAGE: 400}\n"
    )
