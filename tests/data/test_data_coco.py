"""Registering a COCO JSON gives instance, semantic and panoptic datasets that agree
pixel for pixel with masks computed directly by pycocotools."""

import json
import shutil

import seg_d2  # noqa: F401
from seg_d2.data import register_coco_dataset
from seg_d2.data.coco import register_coco_format_datasets
from seg_d2.errors import ConfigError

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import unregister
from panopticapi.utils import rgb2id
from PIL import Image
from pycocotools import mask as mask_util

H, W = 40, 60
CATEGORIES = [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]


def _rle(mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _tiny_coco(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (W, H), (40, 80, 120)).save(images / name)
    dog = np.zeros((H, W), bool)
    dog[5:30, 30:55] = True
    crowd = np.zeros((H, W), bool)
    crowd[30:40, 0:20] = True
    annotations = [
        # a polygon square, partly covered by the later dog
        {
            "id": 11,
            "image_id": 1,
            "category_id": 3,
            "iscrowd": 0,
            "bbox": [10, 5, 30, 20],
            "area": 600,
            "segmentation": [[10, 5, 40, 5, 40, 25, 10, 25]],
        },
        {
            "id": 12,
            "image_id": 1,
            "category_id": 7,
            "iscrowd": 0,
            "bbox": [30, 5, 25, 25],
            "area": 625,
            "segmentation": _rle(dog),
        },
        {
            "id": 13,
            "image_id": 1,
            "category_id": 3,
            "iscrowd": 1,
            "bbox": [0, 30, 20, 10],
            "area": 200,
            "segmentation": _rle(crowd),
        },
        {
            "id": 21,
            "image_id": 2,
            "category_id": 7,
            "iscrowd": 0,
            "bbox": [2, 2, 10, 10],
            "area": 100,
            "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]],
        },
    ]
    dataset = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "height": H, "width": W},
            {"id": 2, "file_name": "b.jpg", "height": H, "width": W},
        ],
        "annotations": annotations,
        "categories": [dict(c) for c in CATEGORIES],
    }
    json_file = tmp_path / "instances.json"
    json_file.write_text(json.dumps(dataset))
    return json_file, images, dataset


def _pycocotools_mask(annotation):
    segm = annotation["segmentation"]
    rle = mask_util.merge(mask_util.frPyObjects(segm, H, W)) if isinstance(segm, list) else segm
    return mask_util.decode(rle).astype(bool)


@pytest.fixture
def tiny(tmp_path):
    json_file, images, dataset = _tiny_coco(tmp_path)
    name = f"tiny_{tmp_path.name}"
    register_coco_dataset(name, json_file, images)
    yield name, dataset
    unregister(name)


def test_instances_use_contiguous_ids_and_keep_the_mapping(tiny):
    name, _ = tiny
    records = DatasetCatalog.get(name)
    metadata = MetadataCatalog.get(name)
    assert metadata.thing_classes == ["cat", "dog"]
    assert metadata.thing_dataset_id_to_contiguous_id == {3: 0, 7: 1}
    assert metadata.evaluator_type == "coco"
    first = next(r for r in records if r["image_id"] == 1)
    assert [(a["id"], a["category_id"], a["iscrowd"]) for a in first["annotations"]] == [
        (11, 0, 0),
        (12, 1, 0),
        (13, 0, 1),
    ]


def test_semantic_png_agrees_with_pycocotools(tiny):
    name, dataset = tiny
    records = {r["image_id"]: r for r in DatasetCatalog.get(name + "_sem_seg")}
    metadata = MetadataCatalog.get(name + "_sem_seg")
    assert metadata.stuff_classes == ["cat", "dog", "background"]
    assert metadata.evaluator_type == "sem_seg" and metadata.ignore_label == 255
    cat, dog, crowd = (_pycocotools_mask(a) for a in dataset["annotations"][:3])
    expected = np.full((H, W), 2, np.uint8)
    expected[crowd] = 255
    expected[cat] = 0
    expected[dog] = 1
    got = np.asarray(Image.open(records[1]["sem_seg_file_name"]))
    assert np.array_equal(got, expected)


def test_panoptic_png_agrees_with_pycocotools(tiny):
    name, dataset = tiny
    records = {r["image_id"]: r for r in DatasetCatalog.get(name + "_panoptic")}
    metadata = MetadataCatalog.get(name + "_panoptic")
    assert metadata.evaluator_type == "coco_panoptic_seg"
    record = records[1]
    ids = rgb2id(np.asarray(Image.open(record["pan_seg_file_name"])))
    cat, dog, crowd = (_pycocotools_mask(a) for a in dataset["annotations"][:3])
    segments = {s["id"]: s for s in record["segments_info"]}
    # contiguous ids in the shared thing+stuff space: cat 0, dog 1, background 2
    by_class = {(s["category_id"], s["iscrowd"]): s["id"] for s in segments.values()}
    assert set(by_class) == {(0, 0), (1, 0), (2, 0), (0, 1)}
    assert np.array_equal(ids == by_class[(1, 0)], dog)
    assert np.array_equal(ids == by_class[(0, 0)], cat & ~dog)
    assert np.array_equal(ids == by_class[(0, 1)], crowd & ~cat & ~dog)
    assert np.array_equal(ids == by_class[(2, 0)], ~(cat | dog | crowd))
    assert segments[by_class[(1, 0)]]["area"] == dog.sum()
    with open(metadata.panoptic_json) as f:
        categories = json.load(f)["categories"]
    assert categories == [
        {"id": 3, "name": "cat", "isthing": 1},
        {"id": 7, "name": "dog", "isthing": 1},
        {"id": 8, "name": "background", "isthing": 0},
    ]


def test_separated_variant_has_instances_and_stuff_only_labels(tiny):
    name, _ = tiny
    meta = MetadataCatalog.get(name + "_panoptic_separated")
    assert meta.stuff_classes == ["things", "background"] and meta.thing_classes == ["cat", "dog"]
    semantic = {r["image_id"]: r for r in DatasetCatalog.get(name + "_sem_seg")}
    for record in DatasetCatalog.get(name + "_panoptic_separated"):
        shared = np.asarray(Image.open(semantic[record["image_id"]]["sem_seg_file_name"]))
        separated = np.asarray(Image.open(record["sem_seg_file_name"]))
        # things (0, 1) -> 0, background (2) -> 1, crowd stays ignored
        np.testing.assert_array_equal(separated, np.select([shared < 2, shared == 2], [0, 1], 255))
        assert [a["category_id"] for a in record["annotations"]] == [
            a["category_id"]
            for a in DatasetCatalog.get(name)[record["image_id"] - 1]["annotations"]
        ]


def test_derived_ground_truth_is_regenerated_when_the_json_changes(tmp_path):
    json_file, images, dataset = _tiny_coco(tmp_path)
    register_coco_dataset("tiny_changing", json_file, images)
    try:
        first = {r["image_id"]: r for r in DatasetCatalog.get("tiny_changing_sem_seg")}
        before = np.asarray(Image.open(first[2]["sem_seg_file_name"]))
        assert (before == 1).sum() == 100
        dataset["annotations"][3]["category_id"] = 3
        json_file.write_text(json.dumps(dataset))
        second = {r["image_id"]: r for r in DatasetCatalog.get("tiny_changing_sem_seg")}
        after = np.asarray(Image.open(second[2]["sem_seg_file_name"]))
        assert (after == 0).sum() == 100 and (after == 1).sum() == 0
    finally:
        unregister("tiny_changing")


def test_evaluation_json_holds_things_only(tmp_path):
    json_file, images, dataset = _tiny_coco(tmp_path)
    dataset["categories"].append({"id": 9, "name": "grass", "isthing": 0})
    grass = np.zeros((H, W), bool)
    grass[:, :2] = True
    dataset["annotations"].append(
        {
            "id": 31,
            "image_id": 2,
            "category_id": 9,
            "iscrowd": 0,
            "bbox": [0, 0, 2, 40],
            "area": 80,
            "segmentation": _rle(grass),
        }
    )
    json_file.write_text(json.dumps(dataset))
    register_coco_dataset("tiny_stuff", json_file, images)
    try:
        records = {r["image_id"]: r for r in DatasetCatalog.get("tiny_stuff")}
        assert [a["id"] for a in records[2]["annotations"]] == [21]
        with open(MetadataCatalog.get("tiny_stuff").json_file) as f:
            evaluation = json.load(f)
        assert sorted(a["id"] for a in evaluation["annotations"]) == [11, 12, 13, 21]
        assert MetadataCatalog.get("tiny_stuff_sem_seg").stuff_classes == ["cat", "dog", "grass"]
        sem = {r["image_id"]: r for r in DatasetCatalog.get("tiny_stuff_sem_seg")}
        label = np.asarray(Image.open(sem[2]["sem_seg_file_name"]))
        assert (label[:, :2] == 2).all() and (label[:, 2:][label[:, 2:] != 1] == 255).all()
    finally:
        unregister("tiny_stuff")


def test_config_line_registers_a_dataset(tmp_path):
    json_file, images, _ = _tiny_coco(tmp_path)
    cfg = seg_d2.setup_config(
        "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml",
        [
            "DATASETS.COCO_FORMAT",
            f"['tiny_cfg={json_file}:{images}']",
            "DATASETS.TRAIN",
            "('tiny_cfg',)",
        ],
    )
    try:
        assert cfg.DATASETS.TRAIN == ("tiny_cfg",)
        assert len(DatasetCatalog.get("tiny_cfg")) == 2
        assert "tiny_cfg_panoptic" in DatasetCatalog.list()
    finally:
        unregister("tiny_cfg")


def test_every_variant_knows_its_json_and_image_folder(tmp_path):
    json_file, images, _ = _tiny_coco(tmp_path)
    name = f"roots_{tmp_path.name}"
    register_coco_dataset(name, json_file, images)
    try:
        for suffix in ("", "_sem_seg", "_panoptic", "_panoptic_separated"):
            metadata = MetadataCatalog.get(name + suffix)
            assert (metadata.image_root, metadata.source_json_file) == (
                str(images),
                str(json_file),
            ), suffix
    finally:
        unregister(name)
    with pytest.raises(ValueError, match="give both panoptic_json and panoptic_root, or neither"):
        register_coco_dataset(name, json_file, images, panoptic_json=str(json_file))


def test_a_name_registered_with_other_files_is_refused_not_switched(tmp_path):
    json_file, images, _ = _tiny_coco(tmp_path)
    entry = f"tiny_twice={json_file}:{images}"
    register_coco_format_datasets([entry])
    try:
        register_coco_format_datasets([entry])  # the same files again: nothing to do
        other = tmp_path / "other.json"
        shutil.copy(json_file, other)
        with pytest.raises(
            ValueError, match=f"'tiny_twice' is already registered with {json_file}"
        ):
            register_coco_format_datasets([f"tiny_twice={other}:{images}"])
        with pytest.raises(ConfigError, match="'coco_2017_val' is already registered with"):
            register_coco_format_datasets([f"coco_2017_val={json_file}:{images}"])
    finally:
        unregister("tiny_twice")


def test_malformed_config_line_is_named():
    with pytest.raises(ConfigError, match="not-a-dataset"):
        seg_d2.setup_config(
            "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml",
            ["DATASETS.COCO_FORMAT", "['not-a-dataset']"],
        )


def test_own_semantic_pngs_and_panoptic_annotations_are_used_as_given(tmp_path):
    json_file, images, _ = _tiny_coco(tmp_path)
    register_coco_dataset("tiny_derive", json_file, images)
    derived_panoptic = DatasetCatalog.get("tiny_derive_panoptic")
    metadata = MetadataCatalog.get("tiny_derive_panoptic")
    own_sem_seg = tmp_path / "own_sem_seg"
    own_sem_seg.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((H, W), 1, np.uint8)).save(own_sem_seg / name)
    register_coco_dataset(
        "tiny_own",
        json_file,
        images,
        sem_seg_root=own_sem_seg,
        panoptic_json=metadata.panoptic_json,
        panoptic_root=metadata.panoptic_root,
    )
    try:
        semantic = DatasetCatalog.get("tiny_own_sem_seg")
        assert {r["sem_seg_file_name"] for r in semantic} == {
            str(own_sem_seg / "a.png"),
            str(own_sem_seg / "b.png"),
        }
        assert MetadataCatalog.get("tiny_own_sem_seg").sem_seg_root == str(own_sem_seg)
        assert DatasetCatalog.get("tiny_own_panoptic") == derived_panoptic
    finally:
        unregister("tiny_own")
        unregister("tiny_derive")


def test_panoptic_evaluator_scores_the_ground_truth_as_perfect(tiny, tmp_path):
    import torch
    from detectron2.evaluation import COCOPanopticEvaluator

    name, _ = tiny
    records = DatasetCatalog.get(name + "_panoptic")
    evaluator = COCOPanopticEvaluator(name + "_panoptic", output_dir=str(tmp_path / "eval"))
    evaluator.reset()
    for record in records:
        ids = rgb2id(np.asarray(Image.open(record["pan_seg_file_name"])))
        segments = [
            {"id": s["id"], "category_id": s["category_id"], "isthing": s["category_id"] < 2}
            for s in record["segments_info"]
            if not s["iscrowd"]
        ]
        crowd = [s["id"] for s in record["segments_info"] if s["iscrowd"]]
        ids[np.isin(ids, crowd)] = 0
        evaluator.process(
            [{"image_id": record["image_id"], "file_name": record["file_name"]}],
            [{"panoptic_seg": (torch.from_numpy(ids), segments)}],
        )
    result = evaluator.evaluate()["panoptic_seg"]
    assert result["PQ"] == pytest.approx(100.0)
    assert result["PQ_th"] == pytest.approx(100.0) and result["PQ_st"] == pytest.approx(100.0)


def test_annotations_hidden_by_later_ones_are_counted_crowd_regions_too_stuff_not(tmp_path, caplog):
    json_file, images, dataset = _tiny_coco(tmp_path)
    square = [[10, 5, 40, 5, 40, 25, 10, 25]]
    inside = [[12, 7, 20, 7, 20, 15, 12, 15]]
    sky_left, sky_right = [[0, 0, 5, 0, 5, 5, 0, 5]], [[50, 30, 59, 30, 59, 39, 50, 39]]
    dataset["categories"].append({"id": 9, "name": "sky", "isthing": 0})
    dataset["annotations"] = [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [12, 7, 8, 8], "segmentation": inside},
        {
            "id": 2,
            "image_id": 1,
            "category_id": 7,
            "iscrowd": 0,
            "bbox": [10, 5, 30, 20],
            "segmentation": square,
        },
        # stuff without an iscrowd key (COCO's 0): the three skies share one segment
        {"id": 3, "image_id": 1, "category_id": 9, "bbox": [0, 0, 5, 5], "segmentation": sky_left},
        {
            "id": 6,
            "image_id": 1,
            "category_id": 9,
            "bbox": [0, 34, 5, 5],
            "segmentation": [[0, 34, 5, 34, 5, 39, 0, 39]],
        },
        {
            "id": 4,
            "image_id": 1,
            "category_id": 9,
            "bbox": [50, 30, 9, 9],
            "segmentation": sky_right,
        },
        # a crowd region of sky, its own segment, all under the later square
        {
            "id": 5,
            "image_id": 1,
            "category_id": 9,
            "iscrowd": 1,
            "bbox": [30, 15, 8, 8],
            "segmentation": [[30, 15, 38, 15, 38, 23, 30, 23]],
        },
    ]
    json_file.write_text(json.dumps(dataset))
    name = f"hidden_{tmp_path.name}"
    register_coco_dataset(name, json_file, images)
    try:
        with caplog.at_level("WARNING"):
            records = DatasetCatalog.get(name + "_panoptic")
        assert [len(r["segments_info"]) for r in records] == [2, 0]  # the dog and one sky
        with open(MetadataCatalog.get(name + "_panoptic").panoptic_json) as f:
            written = json.load(f)
        assert [image["id"] for image in written["images"]] == [1, 2]
        assert [len(a["segments_info"]) for a in written["annotations"]] == [2, 0]
        assert (
            f"{json_file}: 2 annotation(s) are covered entirely by later ones and have no "
            "panoptic segment" in caplog.messages
        )
    finally:
        unregister(name)


def test_a_dataset_is_validated_once_parsed_once_a_load_and_let_go_after(tiny, monkeypatch):
    from seg_d2.data import coco

    name, _ = tiny
    source = coco._DERIVED_FILES[name].__self__
    validations, parses = [], []
    validate, read = coco.validate_coco_dataset, coco.read_coco_json

    def counted_validation(*args, **kwargs):
        validations.append(args[0])
        return validate(*args, **kwargs)

    def counted_read(json_file):
        parses.append(json_file)
        return read(json_file)

    monkeypatch.setattr(coco, "validate_coco_dataset", counted_validation)
    monkeypatch.setattr(coco, "read_coco_json", counted_read)
    assert DatasetCatalog.get(name)
    # registration's parse served validation, the evaluation JSON and the records
    assert (len(validations), len(parses), source._dataset) == (1, 0, None)
    for variant in ("_sem_seg", "_panoptic", "_panoptic_separated"):
        assert DatasetCatalog.get(name + variant)
    assert (len(validations), len(parses), source._dataset) == (1, 1, None)
    assert DatasetCatalog.get(name)
    assert (len(validations), len(parses), source._dataset) == (1, 2, None)


def test_a_changed_json_is_parsed_again_not_served_from_registration(tiny):

    name, dataset = tiny
    json_file = MetadataCatalog.get(name).source_json_file
    dataset["annotations"] = dataset["annotations"][:1]
    with open(json_file, "w") as f:
        json.dump(dataset, f, indent=1)  # another size: another version
    records = DatasetCatalog.get(name)
    assert [a["id"] for r in records for a in r["annotations"]] == [11]


def test_instance_records_are_what_detectron2s_loader_makes_less_skipped_and_stuff(tmp_path):
    from seg_d2.data.categories import ClassSpaces
    from seg_d2.data.coco import instance_records

    from detectron2.data.datasets import load_coco_json

    json_file, images, dataset = _tiny_coco(tmp_path)
    crowd = np.zeros((H, W), np.uint8)
    crowd[2:6, 0:6] = 1
    dataset["categories"].append({"id": 9, "name": "sky", "isthing": 0})
    dataset["images"].reverse()  # the records go by image id all the same
    dataset["annotations"][1:1] = [
        {  # a 2-point polygon beside a usable one: left out of the segmentation
            "id": 14,
            "image_id": 2,
            "category_id": 3,
            "iscrowd": 0,
            "bbox": [20, 20, 10, 10],
            "segmentation": [[20, 20, 30, 30], [20, 20, 30, 20, 30, 30]],
        },
        {  # uncompressed RLE: compressed, as detectron2 does
            "id": 15,
            "image_id": 1,
            "category_id": 7,
            "iscrowd": 1,
            "bbox": [0, 2, 6, 4],
            "segmentation": {"size": [H, W], "counts": _uncompressed(crowd)},
        },
        {  # stuff: not an instance
            "id": 16,
            "image_id": 1,
            "category_id": 9,
            "bbox": [0, 0, 60, 5],
            "segmentation": [[0, 0, 60, 0, 60, 5, 0, 5]],
        },
    ]
    json_file.write_text(json.dumps(dataset))
    class_spaces = ClassSpaces.from_coco_categories(dataset["categories"])
    records = instance_records(dataset, str(images), {21}, class_spaces)
    expected = load_coco_json(str(json_file), str(images), extra_annotation_keys=["id"])
    for record in expected:
        record["annotations"] = [
            {**a, "category_id": {3: 0, 7: 1}[a["category_id"]]}
            for a in record["annotations"]
            if a["id"] not in (16, 21)
        ]
    assert records == expected
    assert [[a["id"] for a in r["annotations"]] for r in records] == [[11, 15, 12, 13], [14]]
    assert np.array_equal(mask_util.decode(records[0]["annotations"][1]["segmentation"]), crowd)
    assert records[1]["annotations"][0]["segmentation"] == [[20, 20, 30, 20, 30, 30]]


def _uncompressed(mask):
    """COCO's uncompressed RLE counts: runs of 0s and 1s down the columns, 0s first."""
    flat = mask.ravel(order="F")
    assert flat[0] == 0
    changes = np.flatnonzero(np.diff(flat)) + 1
    return np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()


def test_records_are_made_with_the_cyclic_garbage_collector_paused(tiny, monkeypatch):
    import gc

    from seg_d2.data import coco

    name, _ = tiny
    seen = []
    records = coco.instance_records
    monkeypatch.setattr(
        coco, "instance_records", lambda *args: seen.append(gc.isenabled()) or records(*args)
    )
    assert DatasetCatalog.get(name)
    assert seen == [False] and gc.isenabled()


def test_a_missing_json_is_named_when_registered(tmp_path):
    from seg_d2.errors import DatasetError

    with pytest.raises(DatasetError, match=r"gone.json: cannot read the COCO JSON: \[Errno 2\]"):
        register_coco_dataset("gone", tmp_path / "gone.json", tmp_path)
    assert "gone" not in DatasetCatalog.list()
