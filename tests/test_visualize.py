"""tools/visualize.py (seg-d2 visualize) in each mode writes PNGs of the expected size;
every tool gives the model its input format."""

import json
import os
import shutil

from seg_d2.data import register_coco_dataset

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import REPO, load_module, perfect_results, png_sizes, unregister
from PIL import Image
from pycocotools import mask as mask_util

TITLE = 22  # the title strip above each panel
SIDE = 256  # shapes images are 256x256


def _tool(name):
    return load_module(f"tools/{name}.py")


def test_dataset_mode_draws_each_variant(tiny_val, tmp_path):
    for suffix in ("", "_sem_seg", "_panoptic"):
        written, sheet = _tool("visualize").main(
            [
                "dataset",
                "--dataset",
                tiny_val + suffix,
                "--num",
                "3",
                "--output",
                str(tmp_path / suffix),
            ]
        )
        assert png_sizes(written) == [(SIDE, SIDE + TITLE)] * 3
        # three panels: three columns, no empty fourth cell
        assert Image.open(sheet).size == (3 * SIDE + 2 * 4, SIDE + TITLE)


@pytest.mark.parametrize(
    "config, suffix, panels",
    [
        ("configs/shapes/mask_rcnn_R18_FPN.yaml", "", 3),
        ("configs/shapes/unet.yaml", "_sem_seg", 3),
    ],
)
def test_predict_mode_compares_with_ground_truth(tiny_val, tmp_path, config, suffix, panels):
    written, _ = _tool("visualize").main(
        [
            "predict",
            "--config-file",
            os.path.join(REPO, config),
            "--dataset",
            tiny_val + suffix,
            "--num",
            "2",
            "--compare",
            "--errors",
            "--score-threshold",
            "0.0",
            "--output",
            str(tmp_path),
            "MODEL.DEVICE",
            "cpu",
            "MODEL.WEIGHTS",
            "",
        ]
    )
    assert png_sizes(written) == [(panels * SIDE + (panels - 1) * 4, SIDE + TITLE)] * 2


def test_predict_mode_on_a_folder_of_images(tiny_shapes, tmp_path):
    written, _ = _tool("visualize").main(
        [
            "predict",
            "--config-file",
            os.path.join(REPO, "configs/shapes/unet.yaml"),
            "--images",
            str(tiny_shapes / "val"),
            "--output",
            str(tmp_path),
            "MODEL.DEVICE",
            "cpu",
            "MODEL.WEIGHTS",
            "",
        ]
    )
    assert len(written) == 4 and png_sizes(written) == [(SIDE, SIDE + TITLE)] * 4


def test_results_mode_reads_a_coco_results_file(tiny_val, tmp_path):
    results_file = tmp_path / "coco_instances_results.json"
    results_file.write_text(json.dumps(perfect_results(tiny_val)))
    written, _ = _tool("visualize").main(
        [
            "results",
            "--results",
            str(results_file),
            "--dataset",
            tiny_val,
            "--compare",
            "--errors",
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert png_sizes(written) == [(3 * SIDE + 2 * 4, SIDE + TITLE)] * 4


def test_compare_on_a_dataset_never_loaded_derives_its_evaluation_json_first(
    tiny_val, tiny_shapes, tmp_path
):
    results_file = tmp_path / "coco_instances_results.json"
    results_file.write_text(json.dumps(perfect_results(tiny_val)))
    copy = tmp_path / "fresh" / "instances_val.json"  # nothing derived beside it yet
    copy.parent.mkdir()
    shutil.copy(tiny_shapes / "annotations" / "instances_val.json", copy)
    register_coco_dataset("never_loaded_val", copy, tiny_shapes / "val")
    try:
        assert not os.path.exists(MetadataCatalog.get("never_loaded_val").json_file)
        written, _ = _tool("visualize").main(
            [
                "results",
                "--results",
                str(results_file),
                "--dataset",
                "never_loaded_val",
                "--compare",
                "--output",
                str(tmp_path / "out"),
            ]
        )
    finally:
        unregister("never_loaded_val")
    assert len(written) == 4


class _RecordingModel(torch.nn.Module):
    """Stands in for a trained model: keeps the images it is given, predicts nothing."""

    seen = []

    def forward(self, batched_inputs):
        from detectron2.structures import Boxes, Instances

        outputs = []
        for inputs in batched_inputs:
            self.seen.append(inputs["image"].permute(1, 2, 0).numpy())
            height, width = inputs["height"], inputs["width"]
            instances = Instances(
                (height, width),
                pred_boxes=Boxes(torch.zeros(0, 4)),
                scores=torch.zeros(0),
                pred_classes=torch.zeros(0, dtype=torch.int64),
                pred_masks=torch.zeros(0, height, width, dtype=torch.bool),
            )
            outputs.append({"instances": instances})
        return outputs


@pytest.mark.parametrize("input_format", ["BGR", "RGB"])
def test_every_tool_gives_the_model_its_input_format(
    input_format, tiny_val, tiny_shapes, tmp_path, monkeypatch
):
    """predict.py, visualize.py, the demo's panels and the Predictor on arrays of either
    colour order all hand the model the channels of INPUT.FORMAT (an RGB config's images
    once reached the model with their colours swapped)."""
    from seg_d2.config_setup import setup_config
    from seg_d2.data.image_io import read_image
    from seg_d2.engine import Predictor, Trainer

    monkeypatch.setattr(Trainer, "build_model", classmethod(lambda cls, cfg: _RecordingModel()))
    _RecordingModel.seen = []
    config = "configs/shapes/mask_rcnn_R18_FPN.yaml"
    opts = ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "", "INPUT.FORMAT", input_format]
    opts += ["INPUT.MIN_SIZE_TEST", str(SIDE), "DATASETS.TEST", f"('{tiny_val}',)"]
    image_file = str(sorted((tiny_shapes / "val").iterdir())[0])
    common = ["--config-file", config, *opts]
    _tool("visualize").main(
        ["predict", "--images", image_file, "--output", str(tmp_path / "v"), *common]
    )
    _tool("predict").main(["--input", image_file, "--output", str(tmp_path / "p"), *common])
    cfg = setup_config(config, [*opts, "OUTPUT_DIR", str(tmp_path / "run")])
    (tmp_path / "run").mkdir()
    torch.save({"model": {}}, tmp_path / "run" / "model_final.pth")  # the demo's trained model
    _tool("demo").write_panels(cfg, str(tmp_path / "panels"))
    predictor = Predictor(cfg)
    predictor(read_image(image_file, format="RGB"), format="RGB")
    predictor(read_image(image_file, format="BGR"), format="BGR")

    records = DatasetCatalog.get(tiny_val)[: _tool("demo").PANELS]
    panels = [record["file_name"] for record in records]
    expected = [image_file, image_file, *panels, image_file, image_file]
    assert len(_RecordingModel.seen) == len(expected)
    for seen, file_name in zip(_RecordingModel.seen, expected):
        # The test size is the images' own: resizing changes no pixel by more than rounding.
        assert np.abs(seen - read_image(file_name, format=input_format)).max() <= 1


def test_an_unregistered_dataset_is_one_message_naming_what_to_give(tmp_path):
    with pytest.raises(SystemExit) as ended:
        _tool("visualize").run(["dataset", "--dataset", "no_such_val", "--output", str(tmp_path)])
    assert str(ended.value.code).startswith(
        "error: dataset 'no_such_val' is not registered: give the --run or --config-file whose "
        "DATASETS.COCO_FORMAT registers it, or a registered dataset, e.g. shapes_train"
    )


def test_results_entries_become_instances_of_the_models_types():
    from seg_d2.commands.visualize import _instances_from_results

    mask = np.zeros((6, 8), np.uint8)
    mask[1:3, 2:5] = 1
    rle = mask_util.encode(np.asfortranarray(mask))
    entry = {"score": 1, "category_id": 7, "bbox": [2, 1, 3, 2], "segmentation": rle}
    instances = _instances_from_results([entry], 6, 8, {7: 0})
    assert instances.image_size == (6, 8)
    assert instances.scores.dtype == torch.float32 and instances.scores.tolist() == [1.0]
    assert instances.pred_classes.tolist() == [0]
    assert instances.pred_boxes.tensor.dtype == torch.float32
    assert instances.pred_boxes.tensor.tolist() == [[2.0, 1.0, 5.0, 3.0]]
    assert instances.pred_masks.dtype == torch.bool
    assert np.array_equal(instances.pred_masks[0].numpy(), mask.astype(bool))
    none = _instances_from_results([], 6, 8, {7: 0})
    assert len(none) == 0 and none.pred_masks.shape == (0, 6, 8)
    assert none.pred_masks.dtype == torch.bool and none.pred_boxes.tensor.shape == (0, 4)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["dataset", "--weights", "w.pth"], "--weights is the weights of a model: give --run or "),
        (["predict", "--dataset", "x"], "predict needs --run, or --config-file and MODEL.WEIGHTS"),
        (["results", "--results", "r.json"], "results needs --results and --dataset"),
        (["results", "--dataset", "x"], "results needs --results and --dataset"),
        (["dataset", "--images", "a.png"], "--images goes with predict"),
    ],
)
def test_arguments_that_do_not_go_together_are_refused_by_name(
    arguments, message, tmp_path, capsys
):
    with pytest.raises(SystemExit) as ended:
        _tool("visualize").main([*arguments, "--output", str(tmp_path)])
    assert ended.value.code == 2
    assert f"error: {message}" in capsys.readouterr().err


@pytest.fixture
def nine_images(tmp_path):
    from seg_d2.data.shapes import generate_shapes_split

    generate_shapes_split(tmp_path, "nine", seed=3, num_images=9)
    register_coco_dataset(
        "nine_images", tmp_path / "annotations" / "instances_nine.json", tmp_path / "nine"
    )
    yield "nine_images"
    unregister("nine_images")


def test_dataset_mode_draws_eight_images_four_to_a_row_unless_told(nine_images, tmp_path):
    written, sheet = _tool("visualize").main(
        ["dataset", "--dataset", nine_images, "--output", str(tmp_path / "default")]
    )
    assert len(written) == 8
    assert Image.open(sheet).size == (4 * SIDE + 3 * 4, 2 * (SIDE + TITLE) + 4)
    written, sheet = _tool("visualize").main(
        [
            *("dataset", "--dataset", nine_images, "--output", str(tmp_path / "told")),
            *("--num", "9", "--columns", "3", "--sheet-width", "500"),
        ]
    )
    assert len(written) == 9
    assert Image.open(sheet).size[0] == 500  # 3 panels shrunk to fit, 2 gaps
