"""The predict command (tools/predict.py, seg-d2 predict) on folders of images."""

import json
import os

from seg_d2.errors import SegD2Error

import pytest
from helpers import REPO, load_module, png_sizes

TITLE = 22  # the title strip above each panel
SIDE = 256  # shapes images are 256x256


@pytest.mark.parametrize(
    "config, written, random_weights",
    [
        ("configs/shapes/mask_rcnn_R18_FPN.yaml", "coco_instances_results.json", "MODEL.WEIGHTS"),
        ("configs/shapes/unet.yaml", "sem_seg/val_00000.jpg.png", "MODEL.WEIGHTS"),
        ("configs/shapes/unet.py", "sem_seg/val_00000.jpg.png", "train.init_checkpoint="),
    ],
)
def test_predict_command_skips_a_corrupt_image_and_names_it(
    tiny_shapes, tmp_path, capsys, config, written, random_weights
):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("val_00000.jpg", "val_00001.jpg"):
        (folder / name).write_bytes((tiny_shapes / "val" / name).read_bytes())
    (folder / "broken.jpg").write_bytes((tiny_shapes / "val" / "val_00002.jpg").read_bytes()[:300])
    status = load_module("tools/predict.py").main(
        [
            "--config-file",
            os.path.join(REPO, config),
            "--input",
            str(folder),
            "--output",
            str(tmp_path / "out"),
            "--batch-size",
            "2",
            "--device",
            "cpu",
            *([random_weights, ""] if random_weights == "MODEL.WEIGHTS" else [random_weights]),
        ]
    )
    assert status == 1
    assert "broken.jpg" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "out" / "overlays")) == [
        "val_00000.jpg.png",
        "val_00001.jpg.png",
    ]
    assert png_sizes([tmp_path / "out" / "overlays" / "val_00000.jpg.png"]) == [(SIDE, SIDE)]
    assert (tmp_path / "out" / written).is_file()
    images = json.loads((tmp_path / "out" / "images.json").read_text())
    assert [os.path.basename(i["file_name"]) for i in images] == ["val_00000.jpg", "val_00001.jpg"]


@pytest.mark.parametrize("config", ["configs/shapes/unet.yaml", "configs/shapes/unet.py"])
def test_predict_command_loads_the_weights_it_is_given(tmp_path, config):
    missing = str(tmp_path / "no_such_weights.pth")
    with pytest.raises(SegD2Error, match="no such .*no_such_weights.pth"):
        load_module("tools/predict.py").main(
            [
                "--config-file",
                os.path.join(REPO, config),
                "--weights",
                missing,
                "--input",
                str(tmp_path),
                "--output",
                str(tmp_path / "out"),
                "--device",
                "cpu",
            ]
        )
