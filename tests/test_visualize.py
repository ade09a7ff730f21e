"""Pictures: every tools/visualize.py mode writes PNGs of the expected size; the GT
panel paints exactly the instance's pixels; errors, per-image scores, plots."""

import json
import os
import shutil

from seg_d2.data import register_coco_dataset
from seg_d2.plots import plot_metrics
from seg_d2.visualization import (
    contact_sheet,
    ground_truth_panel,
    prediction_panel,
    semantic_error_overlay,
)

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import REPO, load_module, unregister
from PIL import Image
from pycocotools import mask as mask_util

TITLE = 22  # the title strip above each panel
SIDE = 256  # shapes images are 256x256


def _tool(name):
    return load_module(f"tools/{name}.py")


def _png_sizes(paths):
    return [Image.open(p).size for p in paths]


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
        assert _png_sizes(written) == [(SIDE, SIDE + TITLE)] * 3
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
    assert _png_sizes(written) == [(panels * SIDE + (panels - 1) * 4, SIDE + TITLE)] * 2


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
    assert len(written) == 4 and _png_sizes(written) == [(SIDE, SIDE + TITLE)] * 4


def _perfect_results(dataset):
    results = []
    for record in DatasetCatalog.get(dataset):
        for annotation in record["annotations"]:
            segmentation = annotation["segmentation"]
            if isinstance(segmentation, list):
                segmentation = mask_util.merge(
                    mask_util.frPyObjects(segmentation, record["height"], record["width"])
                )
            segmentation = dict(
                segmentation,
                counts=segmentation["counts"].decode()
                if isinstance(segmentation["counts"], bytes)
                else segmentation["counts"],
            )
            thing_ids = {
                v: k
                for k, v in MetadataCatalog.get(dataset).thing_dataset_id_to_contiguous_id.items()
            }
            results.append(
                {
                    "image_id": record["image_id"],
                    "category_id": thing_ids[annotation["category_id"]],
                    "bbox": annotation["bbox"],
                    "score": 1.0,
                    "segmentation": segmentation,
                }
            )
    return results


def test_results_mode_reads_a_coco_results_file(tiny_val, tmp_path):
    results_file = tmp_path / "coco_instances_results.json"
    results_file.write_text(json.dumps(_perfect_results(tiny_val)))
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
    assert _png_sizes(written) == [(3 * SIDE + 2 * 4, SIDE + TITLE)] * 4


def test_compare_on_a_dataset_never_loaded_derives_its_evaluation_json_first(
    tiny_val, tiny_shapes, tmp_path
):
    results_file = tmp_path / "coco_instances_results.json"
    results_file.write_text(json.dumps(_perfect_results(tiny_val)))
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


def test_ground_truth_panel_paints_exactly_the_instance(tmp_path):
    Image.new("RGB", (200, 160), (128, 128, 128)).save(tmp_path / "grey.png")
    mask = np.zeros((160, 200), bool)
    mask[60:100, 80:120] = True
    record = {
        "file_name": str(tmp_path / "grey.png"),
        "height": 160,
        "width": 200,
        "image_id": 1,
        "annotations": [
            {
                "bbox": [80, 60, 40, 40],
                "bbox_mode": 1,
                "category_id": 0,
                "iscrowd": 0,
                "segmentation": mask_util.encode(np.asfortranarray(mask.astype(np.uint8))),
            }
        ],
    }
    MetadataCatalog.get("grey_test").set(thing_classes=["box"])
    try:
        panel = ground_truth_panel(record, MetadataCatalog.get("grey_test"))
    finally:
        MetadataCatalog.remove("grey_test")
    changed = np.abs(panel.astype(int) - 128).sum(2) > 0
    assert changed[62:98, 82:118].all()
    # Nothing is painted above, left or right of the instance (its label goes below it).
    assert not changed[:57].any() and not changed[:, :77].any() and not changed[:100, 123:].any()


def test_prediction_panel_draws_only_instances_at_or_above_the_threshold():
    from detectron2.structures import Boxes, Instances

    image = np.full((120, 200, 3), 128, np.uint8)
    masks = torch.zeros(2, 120, 200, dtype=torch.bool)
    masks[0, 40:80, 20:60] = True  # confident, on the left
    masks[1, 40:80, 140:180] = True  # below the threshold, on the right
    instances = Instances(
        (120, 200),
        pred_boxes=Boxes(torch.tensor([[20.0, 40, 60, 80], [140, 40, 180, 80]])),
        scores=torch.tensor([0.9, 0.3]),
        pred_classes=torch.tensor([0, 0]),
        pred_masks=masks,
    )
    MetadataCatalog.get("threshold_test").set(thing_classes=["box"])
    try:
        panel = prediction_panel(
            image, {"instances": instances}, MetadataCatalog.get("threshold_test"), 0.5
        )
    finally:
        MetadataCatalog.remove("threshold_test")
    changed = np.abs(panel.astype(int) - 128).sum(2) > 0
    assert changed[45:75, 25:55].all() and not changed[:, 120:].any()


def test_semantic_errors_paint_the_wrong_pixels_and_no_others():
    image = np.zeros((2, 3, 3), np.uint8)
    truth = np.array([[0, 1, 255], [2, 2, 2]])
    prediction = np.array([[0, 2, 1], [2, 0, 2]])
    painted = semantic_error_overlay(image, truth, prediction).sum(2) > 0
    # wrong: (0, 1) and (1, 1); (0, 2) differs but is ignored
    assert painted.tolist() == [[False, True, False], [False, True, False]]


def test_contact_sheet_tiles_row_by_row():
    panels = [
        np.zeros((10, 20, 3), np.uint8),
        np.zeros((12, 8, 3), np.uint8),
        np.zeros((5, 5, 3), np.uint8),
    ]
    assert contact_sheet(panels, columns=2, gap=1).shape == (2 * 12 + 1, 2 * 20 + 1, 3)


def test_contact_sheet_shrinks_wide_panels_to_its_width_and_keeps_small_ones():
    """13 full-size photos must not make an 8000-px sheet: cells shrink, aspect kept."""
    photo = np.zeros((1000, 2000, 3), np.uint8)
    photo[:, :1000] = 255  # left half white: shrinking must keep it on the left
    small = np.full((30, 40, 3), 7, np.uint8)
    sheet = contact_sheet([photo] * 3 + [small], columns=4, gap=4, max_width=404)
    assert sheet.shape == (49, 404, 3)  # cells 98 px wide: (404 - 3 * 4) / 4; 2:1 photos 49 high
    assert sheet[:49, :49].min() == 255 and sheet[:49, 50:98].max() == 0
    assert (sheet[:30, 306:346] == 7).all()  # the small panel at its own size
    assert contact_sheet([small], columns=4, max_width=404).shape == (30, 40, 3)


def test_plots_from_a_sample_metrics_file(tmp_path):
    lines = [
        {"iteration": i, "total_loss": 2.0 / (i + 1), "loss_mask": 1.0 / (i + 1), "lr": 0.01}
        for i in range(0, 40, 10)
    ]
    lines += [
        {"iteration": 19, "segm/AP": 10.0, "segm/AP-star": 3.0, "sem_seg/mIoU": 40.0},
        {"iteration": 39, "segm/AP": 20.0, "sem_seg/mIoU": 60.0},
    ]
    metrics = tmp_path / "metrics.json"
    metrics.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    paths = plot_metrics(metrics, tmp_path / "plots")
    assert sorted(os.path.basename(p) for p in paths) == [
        "losses.png",
        "lr.png",
        "segm.png",
        "sem_seg.png",
    ]
    assert _png_sizes(paths) == [(600, 350)] * 4
    metrics.write_text(metrics.read_text() + '{"iteration": 4')
    with pytest.raises(ValueError, match=r"metrics.json:7: not a JSON line"):
        plot_metrics(metrics, tmp_path / "plots")


@pytest.mark.parametrize(
    "config, written",
    [
        ("configs/shapes/mask_rcnn_R18_FPN.yaml", "coco_instances_results.json"),
        ("configs/shapes/unet.yaml", "sem_seg/val_00000.jpg.png"),
    ],
)
def test_predict_command_skips_a_corrupt_image_and_names_it(
    tiny_shapes, tmp_path, capsys, config, written
):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("val_00000.jpg", "val_00001.jpg"):
        (folder / name).write_bytes((tiny_shapes / "val" / name).read_bytes())
    (folder / "broken.jpg").write_bytes((tiny_shapes / "val" / "val_00002.jpg").read_bytes()[:300])
    status = _tool("predict").main(
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
            "MODEL.WEIGHTS",
            "",
        ]
    )
    assert status == 1
    assert "broken.jpg" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "out" / "overlays")) == [
        "val_00000.jpg.png",
        "val_00001.jpg.png",
    ]
    assert _png_sizes([tmp_path / "out" / "overlays" / "val_00000.jpg.png"]) == [(SIDE, SIDE)]
    assert (tmp_path / "out" / written).is_file()
    images = json.loads((tmp_path / "out" / "images.json").read_text())
    assert [os.path.basename(i["file_name"]) for i in images] == ["val_00000.jpg", "val_00001.jpg"]


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


@pytest.fixture
def drawn_figures(monkeypatch):
    """{title: figure} of every plot drawn, caught as plots.py closes it."""
    from seg_d2 import plots

    figures = {}
    close = plots.plt.close

    def catch(figure):
        figures[figure.axes[0].get_title()] = figure
        close(figure)

    monkeypatch.setattr(plots.plt, "close", catch)
    return figures


def _curves(axes):
    return {
        line.get_label(): (list(line.get_xdata()), list(line.get_ydata()), line.get_marker())
        for line in axes.get_lines()
    }


def test_each_plot_draws_its_series_against_iteration_with_its_labels(tmp_path, drawn_figures):
    lines = [
        {"iteration": i, "total_loss": 8.0 / (i + 1), "loss_box": 1.0, "lr": 0.01 * i}
        for i in range(25)
    ]
    lines += [
        {"iteration": 9, "bbox/AP": 1.0, "bbox/AP-cat": 5.0, "data_time": 0.1},
        {"iteration": 19, "bbox/AP": 4.0, "panoptic_seg/PQ": 50.0, "mystery/PQ": 2.0},
    ]
    metrics = tmp_path / "metrics.json"
    metrics.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    output = tmp_path / "plots"
    output.mkdir()  # an existing folder is reused
    written = plot_metrics(metrics, output)
    assert written == [str(output / name) for name in ("losses.png", "lr.png")] + [
        str(output / name) for name in ("bbox.png", "panoptic_seg.png")
    ]
    assert set(drawn_figures) == {
        "training losses",
        "learning rate",
        "bbox on the test set",
        "panoptic_seg on the test set",
    }
    iterations = list(range(25))
    losses = drawn_figures["training losses"].axes[0]
    assert (losses.get_ylabel(), losses.get_yscale()) == ("loss", "log")
    assert _curves(losses) == {  # 25 points: lines without markers
        "loss_box": (iterations, [1.0] * 25, "None"),
        "total_loss": (iterations, [8.0 / (i + 1) for i in iterations], "None"),
    }
    lr = drawn_figures["learning rate"].axes[0]
    assert (lr.get_ylabel(), lr.get_yscale()) == ("lr", "linear")
    assert _curves(lr) == {"lr": (iterations, [0.01 * i for i in iterations], "None")}
    bbox = drawn_figures["bbox on the test set"].axes[0]
    assert (bbox.get_ylabel(), bbox.get_yscale()) == ("value", "linear")
    assert _curves(bbox) == {"AP": ([9, 19], [1.0, 4.0], "o")}  # few points: marked
    assert _curves(drawn_figures["panoptic_seg on the test set"].axes[0]) == {
        "PQ": ([19], [50.0], "o")
    }
    for figure in drawn_figures.values():
        axes = figure.axes[0]
        assert axes.get_xlabel() == "iteration" and figure.dpi == 100
        assert [t.get_fontsize() for t in axes.get_legend().get_texts()] == [7] * len(
            axes.get_lines()
        )
        assert axes.xaxis.get_gridlines()[0].get_alpha() == 0.3


def test_a_curve_of_nineteen_points_is_marked_and_of_twenty_is_not(tmp_path, drawn_figures):
    metrics = tmp_path / "metrics.json"
    lines = [{"iteration": i, "lr": 1.0} for i in range(19)]
    lines += [{"iteration": i, "loss_a": 1.0} for i in range(20)]
    metrics.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    plot_metrics(metrics, tmp_path / "plots")
    assert _curves(drawn_figures["learning rate"].axes[0])["lr"][2] == "o"
    assert _curves(drawn_figures["training losses"].axes[0])["loss_a"][2] == "None"


def test_metrics_are_read_per_name_past_blank_lines_numbers_only(tmp_path):
    from seg_d2.plots import read_metrics

    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        '{"iteration": 1, "lr": 0.5, "note": "warm-up"}\n\n'
        '{"iteration": 2, "lr": 0.25, "segm/AP": 3}\n'
    )
    assert read_metrics(metrics) == {"lr": [(1, 0.5), (2, 0.25)], "segm/AP": [(2, 3)]}


def test_semantic_errors_blend_the_error_colour_over_the_image():
    image = np.full((1, 2, 3), 100, np.uint8)
    painted = semantic_error_overlay(image, np.array([[0, 1]]), np.array([[0, 2]]))
    assert painted.dtype == np.uint8
    assert painted[0, 0].tolist() == [100, 100, 100]
    # 0.4 of the image and 0.6 of (255, 0, 0)
    assert np.abs(painted[0, 1].astype(int) - [193, 40, 40]).max() <= 1


def test_the_error_panel_paints_missed_and_false_positive_masks_in_the_error_colour():
    from seg_d2.visualization import instance_error_panel

    from detectron2.data import Metadata
    from detectron2.structures import Instances

    image = np.full((40, 60, 3), 128, np.uint8)
    missed, false_positive = np.zeros((40, 60), bool), np.zeros((40, 60), bool)
    missed[5:20, 5:25] = True
    false_positive[22:38, 35:58] = True
    instances = Instances((40, 60))
    instances.pred_masks = torch.from_numpy(np.stack([false_positive, false_positive]))
    panel = instance_error_panel(image, instances, [1], [missed], Metadata())
    redness = panel[..., 0].astype(int) - panel[..., 1]
    assert redness[missed].mean() > 40 and redness[false_positive].mean() > 40
    assert np.median(redness[~(missed | false_positive)]) == 0  # outlines and labels aside
    empty = instance_error_panel(image, instances, [], [], Metadata())
    assert np.array_equal(empty, image)


def test_an_unregistered_dataset_is_one_message_naming_what_to_give(tmp_path):
    with pytest.raises(SystemExit) as ended:
        _tool("visualize").run(["dataset", "--dataset", "no_such_val", "--output", str(tmp_path)])
    assert str(ended.value.code).startswith(
        "error: dataset 'no_such_val' is not registered: give the --run or --config-file whose "
        "DATASETS.COCO_FORMAT registers it, or a registered dataset, e.g. shapes_train"
    )


def test_the_error_panel_shows_what_the_images_mask_ap_counts(tiny_val):
    """Perfect predictions leave the error panel the bare image; without the first one, its
    ground truth is painted as missed."""
    from seg_d2.evaluation.per_image import coco_ground_truth
    from seg_d2.visualization import compare_panel

    from detectron2.structures import BitMasks, Instances

    record = DatasetCatalog.get(tiny_val)[0]
    metadata = MetadataCatalog.get(tiny_val)
    perfect = [r for r in _perfect_results(tiny_val) if r["image_id"] == record["image_id"]]
    instances = Instances((record["height"], record["width"]))
    instances.pred_masks = torch.from_numpy(
        np.stack([mask_util.decode(r["segmentation"]) for r in perfect]).astype(bool)
    )
    instances.pred_boxes = BitMasks(instances.pred_masks).get_bounding_boxes()
    instances.scores = torch.ones(len(perfect))
    instances.pred_classes = torch.tensor([a["category_id"] for a in record["annotations"]])
    coco_gt = coco_ground_truth(metadata.json_file)
    image = np.asarray(Image.open(record["file_name"]).convert("RGB"))

    def error_panel(kept):
        output = {"instances": instances[kept]}
        panels = compare_panel(record, output, metadata, coco_gt=coco_gt, errors=True)
        return panels[TITLE:, 2 * (SIDE + 4) :]

    assert np.array_equal(error_panel(slice(None)), image)
    first = mask_util.decode(perfect[0]["segmentation"]).astype(bool)
    change = np.abs(error_panel(slice(1, None)).astype(int) - image).sum(2)
    assert change[first].mean() > 30 and np.median(change[~first]) == 0
    with pytest.raises(ValueError, match="need the COCO ground truth"):
        compare_panel(record, {"instances": instances}, metadata, errors=True)
