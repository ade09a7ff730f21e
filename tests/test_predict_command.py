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


def _instances(height, width, boxes, classes):
    import torch
    from detectron2.structures import Boxes, Instances

    instances = Instances((height, width))
    instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
    instances.scores = torch.tensor([0.9] * len(boxes))
    instances.pred_classes = torch.tensor(classes)
    masks = torch.zeros(len(boxes), height, width, dtype=torch.bool)
    for mask, (x0, y0, x1, y1) in zip(masks, boxes):
        mask[y0:y1, x0:x1] = True
    instances.pred_masks = masks
    return instances


def test_outputs_of_every_kind_are_written_per_image_and_gathered_at_the_end(tmp_path):
    from seg_d2.commands.predict import Outputs

    import numpy as np
    import torch
    from detectron2.data.catalog import Metadata
    from PIL import Image

    metadata = Metadata(
        thing_classes=["a", "b"],
        stuff_classes=["a", "b", "sky"],
        thing_dataset_id_to_contiguous_id={3: 0, 5: 1},
    )
    sem_seg = torch.zeros(3, 20, 30)
    sem_seg[2, :, 10:] = 1.0  # "sky" right of x=10
    ids = torch.zeros(20, 30, dtype=torch.int32)
    ids[2:12, 1:10] = 1
    segments = [{"id": 1, "category_id": 0, "isthing": True}]
    first = {
        "instances": _instances(20, 30, [[1, 2, 10, 12]], [0]),
        "sem_seg": sem_seg,
        "panoptic_seg": (ids, segments),
    }
    second = {"instances": _instances(10, 15, [[0, 0, 5, 5], [6, 1, 9, 8]], [1, 0])}
    outputs = Outputs(str(tmp_path), metadata, 0.5)
    outputs.add(7, "in/a/x.jpg", "a/x.jpg.png", np.zeros((20, 30, 3), np.uint8), first)
    outputs.add(8, "in/y.jpg", "y.jpg.png", np.zeros((10, 15, 3), np.uint8), second)
    outputs.close()

    assert json.loads((tmp_path / "images.json").read_text()) == [
        {"id": 7, "file_name": "in/a/x.jpg", "height": 20, "width": 30},
        {"id": 8, "file_name": "in/y.jpg", "height": 10, "width": 15},
    ]
    results = json.loads((tmp_path / "coco_instances_results.json").read_text())
    assert [(r["image_id"], r["category_id"]) for r in results] == [(7, 3), (8, 5), (8, 3)]
    labels = np.array(Image.open(tmp_path / "sem_seg" / "a" / "x.jpg.png"))
    assert labels.shape == (20, 30) and (labels[:, 10:] == 2).all() and (labels[:, :10] == 0).all()
    panoptic = np.array(Image.open(tmp_path / "panoptic" / "a" / "x.jpg.png"))
    assert (panoptic[2:12, 1:10, 0] == 1).all() and panoptic[0, 0].tolist() == [0, 0, 0]
    assert json.loads((tmp_path / "panoptic.json").read_text()) == {
        "annotations": [{"image_id": 7, "file_name": "a/x.jpg.png", "segments_info": segments}]
    }
    overlays = [tmp_path / "overlays" / name for name in ("a/x.jpg.png", "y.jpg.png")]
    assert png_sizes(overlays) == [(30, 20), (15, 10)]  # each image's own size


def test_predict_command_runs_the_model_through_onnx_runtime_with_the_same_results(
    tiny_shapes, tmp_path, monkeypatch
):
    from seg_d2.engine import onnx_backend

    import torch

    exports, export = [], onnx_backend.export_traceable
    monkeypatch.setattr(
        onnx_backend, "export_traceable", lambda *args: exports.append(1) or export(*args)
    )
    results, exported = {}, {}
    for backend in ("pytorch", "onnxruntime"):
        torch.manual_seed(0)  # the same random weights for both
        status = load_module("tools/predict.py").main(
            [
                "--config-file",
                os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"),
                "--input",
                str(tiny_shapes / "val"),
                "--output",
                str(tmp_path / backend),
                "--device",
                "cpu",
                "--backend",
                backend,
                "MODEL.WEIGHTS",
                "",
                "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
                "0.0",
            ]
        )
        assert status == 0
        exported[backend] = len(exports)
        results[backend] = json.loads(
            (tmp_path / backend / "coco_instances_results.json").read_text()
        )
    assert exported == {"pytorch": 0, "onnxruntime": 1}
    want, got = results["pytorch"], results["onnxruntime"]
    assert len(got) == len(want) > 0
    for a, b in zip(want, got):
        assert (a["image_id"], a["category_id"]) == (b["image_id"], b["category_id"])
        assert max(abs(x - y) for x, y in zip(a["bbox"], b["bbox"])) < 1e-2
        assert abs(a["score"] - b["score"]) < 1e-4
    same_masks = sum(a["segmentation"] == b["segmentation"] for a, b in zip(want, got))
    assert same_masks >= 0.99 * len(want)


def test_int8_backend_calibrates_on_the_images_given(tiny_shapes, tmp_path, monkeypatch):
    from seg_d2.engine import onnx_backend

    calibrated, quantized = [], onnx_backend.quantized
    monkeypatch.setattr(
        onnx_backend,
        "quantized",
        lambda path, inputs, layers: quantized(
            path, calibrated.extend(inputs) or calibrated, layers
        ),
    )
    status = load_module("tools/predict.py").main(
        [
            *("--config-file", os.path.join(REPO, "configs/shapes/unet.yaml")),
            *("--input", str(tiny_shapes / "val"), "--output", str(tmp_path / "out")),
            *("--calibration-images", str(tiny_shapes / "train")),
            *("--device", "cpu", "--backend", "onnxruntime-int8"),
            *("MODEL.WEIGHTS", "", "TEST.INT8.CALIBRATION_IMAGES", "3"),
        ]
    )
    assert status == 0
    assert len(calibrated) == 3  # of the 8 training images
    labels = sorted((tmp_path / "out" / "sem_seg").iterdir())
    assert [path.name for path in labels] == [f"val_0000{i}.jpg.png" for i in range(4)]
    assert png_sizes(labels) == [(SIDE, SIDE)] * 4
