"""Each bad input of tests/data/bad/make_corpus.py, through every door a user opens:
registration, the validation command, training start-up, tools/visualize.py and
tools/predict.py. Each case has one documented outcome (docs/robustness.md): an
error naming the file, image or annotation; a counted, logged skip; or acceptance,
with the image converted as detectron2 reads it."""

import json
import logging
import os
import re
import subprocess
import sys

from seg_d2.config_setup import setup_config
from seg_d2.data import DatasetError, ImageReadError, read_image, register_coco_dataset
from seg_d2.data.augmentation import build_train_mapper
from seg_d2.data.validate import main as validate_command
from seg_d2.engine import Trainer
from seg_d2.visualization import MAX_PANEL_SIDE

import numpy as np
import pytest
from detectron2.data import DatasetCatalog
from detectron2.data.build import get_detection_dataset_dicts
from helpers import REPO, load_module, unregister
from PIL import Image

TITLE_HEIGHT = 22


corpus = load_module("tests/data/bad/make_corpus.py")

# case -> the error, naming its culprit, that registration (and so training,
# evaluation and visualization of the dataset) stops with
REJECTED = {
    "truncated_png": r"image id 2 \('b.png'\): image file \S+b.png cannot be decoded",
    "corrupt_jpeg": r"image id 2 \('b.jpg'\): image file \S+b.jpg cannot be decoded",
    "corrupt_png": r"image id 2 \('b.png'\): image file \S+b.png cannot be decoded",
    "zero_byte_file": r"image id 2 \('b.png'\): image file \S+b.png cannot be decoded",
    "missing_image": r"image id 2 \('b.png'\): image file \S+b.png is missing",
    "wrong_size_in_json": r"image id 2 \('b.png'\): the JSON says 48x64 but \S+b.png is 64x48",
    "nan_coordinate": r"annotation id 20 of image id 2: polygon coordinates must be finite numbers",
    "inf_coordinate": r"annotation id 20 of image id 2: polygon coordinates must be finite numbers",
    "bbox_outside_image": r"annotation id 20 of image id 2: bbox \[50, 40, 30, 30\] lies outside "
    r"the 64x48 image",
    "rle_wrong_size": r"annotation id 20 of image id 2: RLE size \[49, 64\] differs from the "
    r"image's \[48, 64\]",
    "unknown_category": r"annotation id 20 of image id 2: category id 99 is not in 'categories'",
    "duplicate_image_id": r"image id 1 appears more than once",
    "duplicate_annotation_id": r"annotation id 10 appears more than once",
    "empty_annotations": r"'annotations' is empty",
    "non_utf8_json": r"instances.json: cannot read the COCO JSON: 'utf-8' codec can't decode "
    r"byte 0xe9",
}
# case -> (annotation id, reason) skipped, counted and logged; the rest trains
SKIPPED = {"polygon_under_3_points": (20, "polygon with fewer than 3 points")}
# case -> the file that registration's header check passes and reading fails on
UNREADABLE = {"truncated_jpeg": "b.jpg"}
# case -> (height, width) of image 2 as read, in colour; annotations per image
ACCEPTED = {
    "self_intersecting_polygon": ((48, 64), [1, 1]),
    "negative_coordinates": ((48, 64), [1, 1]),
    "non_utf8_file_name": ((48, 64), [1, 1]),
    "one_pixel_image": ((1, 1), [1, 0]),
    "huge_image_8000x8000": ((8000, 8000), [1, 1]),
    "sixteen_bit_png": ((48, 64), [1, 1]),
    "rgba_png": ((48, 64), [1, 1]),
    "greyscale_png": ((48, 64), [1, 1]),
    "cmyk_jpeg": ((48, 64), [1, 1]),
}
IMAGE_PROBLEMS = [
    "truncated_jpeg",
    "truncated_png",
    "corrupt_jpeg",
    "corrupt_png",
    "zero_byte_file",
]


def test_every_case_has_one_documented_outcome():
    outcomes = [REJECTED, SKIPPED, UNREADABLE, ACCEPTED]
    assert sorted(case for outcome in outcomes for case in outcome) == sorted(corpus.CASES)
    documented = open(os.path.join(REPO, "docs", "robustness.md")).read()
    assert [case for case in corpus.CASES if f"`{case}`" not in documented] == []


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return corpus.write_corpus(str(tmp_path_factory.mktemp("bad")))


@pytest.fixture
def registered(bad):
    names = []

    def register(case):
        name = f"bad_{case}"
        names.append(name)
        register_coco_dataset(
            name,
            os.path.join(bad[case], "instances.json"),
            os.path.join(bad[case], "images"),
            categories=[corpus.CATEGORY],
        )
        return name

    yield register
    for name in names:
        unregister(name)


def _image_file(bad, case, index=1):
    with open(os.path.join(bad[case], "instances.json"), "rb") as f:
        name = json.loads(f.read().decode("utf-8"))["images"][index]["file_name"]
    return os.path.join(bad[case], "images", name)


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_registration_names_the_culprit(bad, registered, case):
    name = registered(case)
    for variant in (name, name + "_sem_seg", name + "_panoptic"):
        with pytest.raises(DatasetError, match=REJECTED[case]) as error:
            DatasetCatalog.get(variant)
        assert os.path.join(bad[case], "instances.json") in str(error.value)


@pytest.mark.parametrize("case", sorted(SKIPPED))
def test_registration_counts_and_logs_a_skip(bad, registered, case, caplog):
    annotation_id, reason = SKIPPED[case]
    with caplog.at_level(logging.WARNING):
        records = DatasetCatalog.get(registered(case))
    assert f"skipping 1 unusable annotation(s) (1 {reason}); ids: [{annotation_id}]" in caplog.text
    assert [a["id"] for r in records for a in r["annotations"]] == [10]


@pytest.mark.parametrize("case", sorted(ACCEPTED) + sorted(UNREADABLE))
def test_registration_accepts(bad, registered, case):
    name = registered(case)
    records = DatasetCatalog.get(name)
    expected = ACCEPTED[case][1] if case in ACCEPTED else [1, 1]
    assert [len(r["annotations"]) for r in records] == expected
    semantic = DatasetCatalog.get(name + "_sem_seg")
    labels = read_image(semantic[1]["sem_seg_file_name"])
    assert labels.shape == (records[1]["height"], records[1]["width"])


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_accepted_images_read_as_three_channel_eight_bit(bad, case):
    image = read_image(_image_file(bad, case), format="BGR")
    assert image.shape == (*ACCEPTED[case][0], 3) and image.dtype == np.uint8
    if case == "sixteen_bit_png":  # scaled to 8 bits, not clipped to white
        assert np.array_equal(image[..., 0], corpus._picture(1)[..., 0])


def test_accepted_polygons_are_rasterised_inside_the_image(bad, registered):
    """A self-intersecting polygon fills what pycocotools fills (the even-odd rule:
    both lobes of the bow tie); coordinates off the image are clipped."""
    bow_tie = read_image(
        DatasetCatalog.get(registered("self_intersecting_polygon") + "_sem_seg")[1][
            "sem_seg_file_name"
        ]
    )
    left, right = bow_tie[20, 32], bow_tie[20, 48]  # one pixel inside each lobe
    assert left == right == 0 and bow_tie[12, 40] == 1  # the square is class 0, the background 1
    clipped = read_image(
        DatasetCatalog.get(registered("negative_coordinates") + "_sem_seg")[1]["sem_seg_file_name"]
    )
    assert (
        (clipped[:20, :20] == 0).all()
        and (clipped[21:, :] == 1).all()
        and (clipped[:, 21:] == 1).all()
    )


def _validate(bad, case, capsys):
    status = validate_command(
        [os.path.join(bad[case], "instances.json"), os.path.join(bad[case], "images"), "--decode"]
    )
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@pytest.mark.parametrize("case", sorted(corpus.CASES))
def test_validate_command(bad, case, capsys):
    status, output = _validate(bad, case, capsys)
    if case in REJECTED:
        assert status == 1 and re.search(REJECTED[case], output), output
    elif case in UNREADABLE:  # --decode reads every pixel
        assert status == 1 and re.search(
            rf"{UNREADABLE[case]} cannot be decoded \(OSError: image file is truncated", output
        ), output
    elif case in SKIPPED:
        annotation_id, reason = SKIPPED[case]
        assert status == 0 and f"skipped: annotation id {annotation_id}: {reason}" in output
    else:
        assert status == 0 and "error:" not in output


def _training_config(name, output_dir):
    return setup_config(
        os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
        [
            "DATASETS.TRAIN",
            f"('{name}',)",
            "DATASETS.TEST",
            "()",
            "MODEL.ROI_HEADS.NUM_CLASSES",
            "1",
            "INPUT.MIN_SIZE_TRAIN",
            "(64,)",
            "INPUT.MAX_SIZE_TRAIN",
            "128",
            "SOLVER.IMS_PER_BATCH",
            "1",
            "SOLVER.MAX_ITER",
            "1",
            "SOLVER.WARMUP_ITERS",
            "0",
            "DATALOADER.NUM_WORKERS",
            "0",
            "MODEL.DEVICE",
            "cpu",
            "TEST.EVAL_PERIOD",
            "0",
            "OUTPUT_DIR",
            str(output_dir),
        ],
    )


def _start_training(name, output_dir):
    """Map every training record as the trainer's loader does, then train one iteration."""
    cfg = _training_config(name, output_dir)
    trainer = Trainer(cfg)
    records = get_detection_dataset_dicts(
        cfg.DATASETS.TRAIN, filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS
    )
    mapper = build_train_mapper(cfg)
    mapped = [mapper(record) for record in records]
    trainer.train()
    return mapped, trainer.storage.history("total_loss").latest()


@pytest.mark.parametrize("case", sorted(corpus.CASES))
def test_training_start(bad, registered, case, tmp_path):
    name = registered(case)
    if case in REJECTED:
        with pytest.raises(DatasetError, match=REJECTED[case]):
            _start_training(name, tmp_path)
    elif case in UNREADABLE:
        with pytest.raises(
            ImageReadError, match=rf"cannot read image '\S+{UNREADABLE[case]}' \(OSError: image"
        ):
            _start_training(name, tmp_path)
    else:
        mapped, loss = _start_training(name, tmp_path)
        assert np.isfinite(loss)
        expected = ACCEPTED.get(case, (None, [1, 0]))[1]
        kept = [
            n for n in expected if n > 0
        ]  # detectron2 drops images without instances, and logs it
        assert [len(m["instances"]) for m in mapped] == kept
        assert all(m["image"].shape[0] == 3 and max(m["image"].shape[1:]) <= 128 for m in mapped)


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, message",
    [
        (
            "truncated_jpeg",
            r"error: cannot read image '\S+b.jpg' \(OSError: image file is truncated",
        ),
        (
            "bbox_outside_image",
            r"error: 1 problem\(s\) in the dataset:\n  \S+instances.json: annotation id 20",
        ),
    ],
)
def test_train_net_command_ends_with_the_message_not_a_traceback(bad, case, message, tmp_path):
    folder = bad[case]
    command = [
        sys.executable,
        os.path.join(REPO, "tools", "train_net.py"),
        "--config-file",
        os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
        "DATASETS.COCO_FORMAT",
        f"['bad={folder}/instances.json:{folder}/images']",
        "DATASETS.TRAIN",
        "('bad',)",
        "DATASETS.TEST",
        "()",
        "MODEL.ROI_HEADS.NUM_CLASSES",
        "1",
        "INPUT.MIN_SIZE_TRAIN",
        "(64,)",
        "SOLVER.IMS_PER_BATCH",
        "2",
        "SOLVER.MAX_ITER",
        "10",
        "DATALOADER.NUM_WORKERS",
        "1",
        "MODEL.DEVICE",
        "cpu",
        "OUTPUT_DIR",
        str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 1
    assert re.search(message, run.stderr), run.stderr[-2000:]
    assert "Traceback" not in run.stderr


def _tool(name):
    return load_module(f"tools/{name}.py")


@pytest.mark.parametrize("case", sorted(corpus.CASES))
def test_visualize_dataset(bad, registered, case, tmp_path):
    name = registered(case)
    arguments = ["dataset", "--dataset", name, "--output", str(tmp_path)]
    if case in REJECTED:
        with pytest.raises(DatasetError, match=REJECTED[case]):
            _tool("visualize").main(arguments)
    elif case in UNREADABLE:
        with pytest.raises(
            SystemExit,
            match=rf"1 image\(s\) could not be read, not drawn:\n  cannot read image "
            rf"'\S+{UNREADABLE[case]}'",
        ):
            _tool("visualize").main(arguments)
        assert sorted(os.listdir(tmp_path)) == ["a.png.png", "contact_sheet.png"]
    else:
        written, sheet = _tool("visualize").main(arguments)
        assert len(written) == 2 and all(os.path.isfile(p) for p in written + [sheet])
        assert (
            max(Image.open(written[1]).size) <= MAX_PANEL_SIDE + TITLE_HEIGHT
        )  # large images drawn smaller


@pytest.mark.parametrize(
    "case",
    IMAGE_PROBLEMS + sorted(set(ACCEPTED) - {"self_intersecting_polygon", "negative_coordinates"}),
)
def test_predict_on_the_images(bad, case, tmp_path, capsys):
    status = _tool("predict").main(
        [
            "--config-file",
            os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
            "--input",
            os.path.join(bad[case], "images"),
            "--output",
            str(tmp_path),
            "--device",
            "cpu",
            "MODEL.WEIGHTS",
            "",
            "INPUT.MIN_SIZE_TEST",
            "64",
            "INPUT.MAX_SIZE_TEST",
            "128",
            "TEST.DETECTIONS_PER_IMAGE",
            "5",
        ]
    )
    images = json.loads((tmp_path / "images.json").read_text())
    if case in IMAGE_PROBLEMS:
        assert status == 1
        assert re.search(
            r"1 image\(s\) could not be read, no prediction for them:\n  cannot read image "
            r"'\S+b\.(jpg|png)'",
            capsys.readouterr().err,
        )
        assert [os.path.basename(i["file_name"]) for i in images] == ["a.png"]
    else:
        assert status == 0 and len(images) == 2
        assert sorted(os.listdir(tmp_path / "overlays")) == sorted(
            os.fsdecode(os.path.basename(_image_file(bad, case, i))) + ".png" for i in (0, 1)
        )
