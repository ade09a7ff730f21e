"""seg_d2's DatasetMapper reads images with seg_d2's read_image; detectron2's own
read_image and DatasetMapper stay as detectron2 wrote them."""

import seg_d2  # noqa: F401
from seg_d2.config_setup import setup_config
from seg_d2.data import ImageReadError
from seg_d2.data.mapper import DatasetMapper

import numpy as np
import pytest
from detectron2.data import DatasetMapper as Detectron2DatasetMapper
from detectron2.data import detection_utils
from PIL import Image

UNET = "configs/shapes/unet.yaml"


def _mappers():
    cfg = setup_config(UNET, ["INPUT.MIN_SIZE_TEST", "0"])  # 0: no resize
    return DatasetMapper(cfg, is_train=False), Detectron2DatasetMapper(cfg, is_train=False)


def test_detectron2s_read_image_is_untouched_by_importing_seg_d2():
    assert detection_utils.read_image.__module__ == "detectron2.data.detection_utils"


def test_a_sixteen_bit_photo_is_scaled_by_seg_d2s_mapper_and_clipped_by_detectron2s(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((8, 10), 40000, np.uint16)).save(path)
    ours, theirs = _mappers()
    record = {"file_name": str(path), "height": 8, "width": 10, "image_id": 0}
    assert ours(dict(record))["image"].unique().tolist() == [40000 >> 8]
    assert theirs(dict(record))["image"].unique().tolist() == [255]


def test_a_broken_image_is_named_by_seg_d2s_mapper(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not a png")
    ours, _ = _mappers()
    with pytest.raises(ImageReadError, match="broken.png"):
        ours({"file_name": str(path), "height": 8, "width": 10, "image_id": 0})
