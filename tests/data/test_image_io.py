"""Images read as they are meant (wide greyscale images scaled to 8 bits by one rule, or
refused by name), the same in training and prediction; outputs named so that no two
input images share one."""

import os

from seg_d2.data.image_io import ImageReadError, output_names, read_image
from seg_d2.data.mapper import DatasetMapper
from seg_d2.data.validate import validate_coco_dataset

import numpy as np
import pytest
import tifffile
from helpers import REPO, load_module
from PIL import Image

RAMP = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)


@pytest.mark.parametrize(
    "values, expected",
    [
        (RAMP, np.rint(RAMP * 255)),  # 0..1 floats, times 255
        (RAMP * 200, np.rint(RAMP * 200)),  # 0..255 floats, as they are
        ((RAMP * 65535).astype(np.int32), (RAMP * 65535).astype(np.int32) >> 8),  # 32-bit ints
    ],
)
def test_wide_greyscale_images_are_scaled_to_eight_bits(tmp_path, values, expected):
    path = str(tmp_path / "wide.tif")
    tifffile.imwrite(path, values)
    image = read_image(path, format="RGB")
    assert image.dtype == np.uint8 and image.shape == (3, 4, 3)
    assert np.array_equal(image[:, :, 0], expected.astype(np.uint8))
    assert np.array_equal(image[:, :, 0], image[:, :, 2])


@pytest.mark.parametrize(
    "values, says",
    [
        (RAMP * 300, "a float image with values 0..300"),
        (np.where(RAMP > 0.5, np.nan, RAMP).astype(np.float32), "a float image with values nan"),
        ((RAMP * 100 - 50).astype(np.int32), "an integer image with values -50..50"),
        ((RAMP * 100000).astype(np.int32), "an integer image with values 0..100000"),
    ],
)
def test_wide_images_outside_the_rule_are_refused_by_name(tmp_path, values, says):
    path = str(tmp_path / "odd.tif")
    tifffile.imwrite(path, values)
    with pytest.raises(ImageReadError, match=rf"cannot read image '{path}' \(ValueError: {says}"):
        read_image(path, format="RGB")


def test_training_reads_a_float_image_as_prediction_does(tmp_path):
    path = str(tmp_path / "float.tif")
    tifffile.imwrite(path, RAMP)
    mapper = DatasetMapper(is_train=False, augmentations=[], image_format="RGB")
    mapped = mapper({"file_name": path, "height": 3, "width": 4, "image_id": 1})
    assert np.array_equal(mapped["image"].permute(1, 2, 0).numpy(), read_image(path, "RGB"))


def test_validation_with_decode_names_a_refused_image(tmp_path):
    import json

    tifffile.imwrite(tmp_path / "a.tif", RAMP * 300)
    dataset = {
        "images": [{"id": 1, "file_name": "a.tif", "width": 4, "height": 3}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 2, 2],
                "segmentation": [[0, 0, 2, 0, 2, 2]],
            }
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (tmp_path / "instances.json").write_text(json.dumps(dataset))
    report = validate_coco_dataset(tmp_path / "instances.json", tmp_path, decode_images=True)
    assert any("'a.tif'" in e and "a float image with values 0..300" in e for e in report.errors)


def test_output_names_keep_relative_paths_and_extensions(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    files = [
        str(tmp_path / "a" / "x.png"),
        str(tmp_path / "b" / "x.png"),
        str(tmp_path / "a" / "x.jpg"),
    ]
    inputs = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert output_names(files, inputs) == [
        os.path.join("a", "x.png"),
        os.path.join("b", "x.png"),
        os.path.join("a", "x.jpg"),
    ]
    assert output_names(files[:1], inputs[:1]) == ["x.png"]
    assert output_names(files[:1], files[:1]) == ["x.png"]


def test_predict_on_two_folders_with_one_file_name_writes_both(tmp_path):
    inputs = []
    for folder, colour in (("left", (250, 0, 0)), ("right", (0, 0, 250))):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (48, 40), colour).save(tmp_path / folder / "same.png")
        inputs.append(str(tmp_path / folder))
    status = load_module("tools/predict.py").main(
        [
            "--config-file",
            os.path.join(REPO, "configs/shapes/unet.yaml"),
            "--input",
            *inputs,
            "--output",
            str(tmp_path / "out"),
            "--device",
            "cpu",
            "MODEL.WEIGHTS",
            "",
            "INPUT.MIN_SIZE_TEST",
            "32",
        ]
    )
    assert status == 0
    overlays = [tmp_path / "out" / "overlays" / side / "same.png.png" for side in ("left", "right")]
    labels = [tmp_path / "out" / "sem_seg" / side / "same.png.png" for side in ("left", "right")]
    assert all(path.is_file() for path in overlays + labels)
    left, right = (np.asarray(Image.open(path)) for path in overlays)
    assert not np.array_equal(left, right)  # each drawn on its own image


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_an_exif_orientation_is_applied_as_detectron2_applies_it(tmp_path, orientation):
    from detectron2.data import detection_utils

    path = str(tmp_path / "turned.jpg")
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:5, :10] = 255  # a corner that shows which way the image turned
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif, quality=100)
    ours, theirs = read_image(path, format="RGB"), detection_utils.read_image(path, format="RGB")
    assert ours.shape == theirs.shape == ((20, 30, 3) if orientation == 3 else (30, 20, 3))
    np.testing.assert_array_equal(ours, theirs)
