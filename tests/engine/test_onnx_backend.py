"""The Predictor's ONNX Runtime backend gives the PyTorch model's outputs."""

import os

import seg_d2
from seg_d2.data.image_io import read_image
from seg_d2.engine import Predictor, onnx_backend

import numpy as np
import pytest
import torch
from detectron2.modeling import build_model
from helpers import random_model
from PIL import Image

MASK_RCNN = "configs/shapes/mask_rcnn_R18_FPN.yaml"
UNET = "configs/shapes/unet.yaml"
PANOPTIC_FPN = "configs/shapes/panoptic_fpn_R18.yaml"


def _predictors(config, *opts):
    cfg, model = random_model(config, *opts)
    return Predictor(cfg, model=model), Predictor(cfg, model=model, backend="onnxruntime")


def _images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(100, 140, 3), (90, 200, 3)]]


def test_mask_rcnn_gives_the_pytorch_models_detections_at_any_size():
    eager, onnx = _predictors(MASK_RCNN)
    for image in _images():  # the first traces, the second is another size
        want, got = eager(image, "BGR")["instances"], onnx(image, "BGR")["instances"]
        assert len(want) == len(got) > 0 and got.image_size == image.shape[:2]
        torch.testing.assert_close(got.pred_boxes.tensor, want.pred_boxes.tensor, atol=1e-3, rtol=0)
        torch.testing.assert_close(got.scores, want.scores, atol=1e-4, rtol=0)
        assert torch.equal(got.pred_classes, want.pred_classes)
        assert got.pred_masks.shape == want.pred_masks.shape == (len(want), *image.shape[:2])
        assert (got.pred_masks != want.pred_masks).float().mean() < 1e-3


def test_a_semantic_model_gives_the_pytorch_models_logits_in_batches():
    eager, onnx = _predictors(UNET)
    images = _images() * 2
    for want, got in zip(eager.predict(images, "RGB"), onnx.predict(images, "RGB", batch_size=2)):
        assert got["sem_seg"].shape == want["sem_seg"].shape
        torch.testing.assert_close(got["sem_seg"], want["sem_seg"], atol=1e-3, rtol=0)


def test_the_model_is_exported_once(monkeypatch):
    exported = []
    export = onnx_backend.export_traceable
    monkeypatch.setattr(
        onnx_backend, "export_traceable", lambda *args: exported.append(1) or export(*args)
    )
    _, onnx = _predictors(UNET)
    assert exported == []  # not before the first image
    onnx.predict(_images() * 2, "RGB")
    assert exported == [1]


@pytest.mark.parametrize(
    "opts, error",
    [
        (["TEST.AUG.ENABLED", "True"], "turn off test-time augmentation and sliding windows"),
        (["TEST.SLIDING_WINDOW.SIZE", "64"], "turn off test-time augmentation and sliding windows"),
    ],
)
def test_what_the_backend_cannot_run_is_refused_by_name(opts, error):
    with pytest.raises(ValueError, match=error):
        _predictors(UNET, *opts)


def test_models_export_cannot_trace_and_unknown_backends_are_refused():
    with pytest.raises(NotImplementedError, match="not PanopticFPN"):
        _predictors(PANOPTIC_FPN)
    cfg = seg_d2.setup_config(UNET, ["MODEL.DEVICE", "cpu"])
    with pytest.raises(ValueError, match="backend must be one of \\('pytorch', 'onnxruntime', "):
        Predictor(cfg, model=build_model(cfg), backend="tensorrt")


def test_evaluation_through_onnx_runtime_scores_as_pytorch_does(tiny_val, monkeypatch, tmp_path):
    from seg_d2.engine import Trainer

    exports, export = [], onnx_backend.export_traceable
    monkeypatch.setattr(
        onnx_backend, "export_traceable", lambda *args: exports.append(1) or export(*args)
    )
    scores = {}
    for backend in ("pytorch", "onnxruntime"):
        cfg = seg_d2.setup_config(
            UNET,
            [
                *("MODEL.DEVICE", "cpu", "DATALOADER.NUM_WORKERS", "0"),
                *("DATASETS.TEST", f"('{tiny_val}_sem_seg',)", "TEST.BACKEND", backend),
                *("OUTPUT_DIR", str(tmp_path / backend)),
            ],
        )
        torch.manual_seed(0)
        results = Trainer.test(cfg, build_model(cfg).eval())
        scores[backend] = results["sem_seg"]
        assert len(exports) == (backend == "onnxruntime")
    assert scores["onnxruntime"].keys() == scores["pytorch"].keys()
    for key, value in scores["pytorch"].items():
        assert abs(scores["onnxruntime"][key] - value) < 0.05, key


def test_the_exported_file_is_removed_once_onnx_runtime_has_read_it(monkeypatch):
    folders = []
    export = onnx_backend.export_traceable
    monkeypatch.setattr(
        onnx_backend,
        "export_traceable",
        lambda adapter, image, folder, format: (
            folders.append(folder) or export(adapter, image, folder, format)
        ),
    )
    eager, onnx = _predictors(UNET)
    image = _images()[0]
    torch.testing.assert_close(
        onnx(image, "RGB")["sem_seg"], eager(image, "RGB")["sem_seg"], atol=1e-3, rtol=0
    )
    assert len(folders) == 1 and not os.path.exists(folders[0])


def _quantised_convolutions(monkeypatch):
    """{node name: whether its weights are int8} of each convolution and fully connected
    layer of the models the int8 backend quantises from now, and the calibration inputs."""
    import onnx

    layers, calibrations = {}, []
    quantized = onnx_backend.quantized

    def recorded(path, inputs, float_layers=()):
        calibrations.append(list(inputs))
        output = quantized(path, calibrations[-1], float_layers)
        graph = onnx.load(output).graph
        made_by = {out: node for node in graph.node for out in node.output}
        for node in graph.node:
            if node.op_type in ("Conv", "Gemm"):
                weights = made_by.get(node.input[1])
                layers[node.name] = weights is not None and weights.op_type == "DequantizeLinear"
        return output

    monkeypatch.setattr(onnx_backend, "quantized", recorded)
    return layers, calibrations


def _write_images(folder, count):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(
            folder / f"{index}.png"
        )
    return folder


def test_int8_quantises_all_but_the_prediction_layers_and_stays_near_float(monkeypatch, tmp_path):
    layers, calibrations = _quantised_convolutions(monkeypatch)
    cfg, model = random_model(UNET, "TEST.INT8.CALIBRATION_IMAGES", "3")
    images = _write_images(tmp_path / "calibration", 7)
    eager = Predictor(cfg, model=model)
    int8 = Predictor(cfg, model=model, backend="onnxruntime-int8", calibration_images=[str(images)])
    for image in _images():
        want, got = eager(image, "RGB")["sem_seg"], int8(image, "RGB")["sem_seg"]
        assert got.shape == want.shape
        # quantised: not float's logits, but near them, and the same classes almost everywhere
        error = (got - want).abs().mean() / (want.max() - want.min())
        assert 0 < error < 0.02
        assert (got.argmax(0) == want.argmax(0)).float().mean() > 0.95
    assert layers.pop("/model/sem_seg_head/predictor/Conv") is False
    assert len(layers) > 10 and all(layers.values())
    # 3 of the 7 images, evenly spaced (0.png, 2.png and 4.png), as the model takes them
    expected = [
        int8.model_input(read_image(images / f"{index}.png", format="RGB"), "RGB")["image"]
        for index in (0, 2, 4)
    ]
    assert len(calibrations[0]) == 3
    assert all(torch.equal(item["image"], want) for item, want in zip(calibrations[0], expected))


def test_int8_float_layers_follow_the_config_including_repeated_modules(monkeypatch, tmp_path):
    layers, _ = _quantised_convolutions(monkeypatch)
    rpn = "proposal_generator.rpn_head.anchor_deltas"
    cfg, model = random_model(MASK_RCNN, "TEST.INT8.FLOAT_LAYERS", f"['{rpn}']")
    images = _write_images(tmp_path / "calibration", 2)
    int8 = Predictor(cfg, model=model, backend="onnxruntime-int8", calibration_images=[images])
    assert len(int8(_images()[0], "BGR")["instances"]) > 0
    in_float = sorted(name for name, quantised in layers.items() if not quantised)
    # called once per FPN level: anchor_deltas, anchor_deltas_1, ...
    assert in_float == sorted(
        f"/proposal_generator/rpn_head/anchor_deltas{suffix}/Conv"
        for suffix in ("", "_1", "_2", "_3", "_4")
    )


def test_int8_without_calibration_images_is_refused_by_name():
    cfg, model = random_model(UNET)
    with pytest.raises(ValueError, match="needs calibration images"):
        onnx_backend.with_backend("onnxruntime-int8", model, model)
    cfg.defrost()
    cfg.DATASETS.TRAIN = ("not_registered_here",)
    int8 = Predictor(cfg, model=model, backend="onnxruntime-int8")
    with pytest.raises(ValueError, match="give calibration_images \\(--calibration-images\\)"):
        int8(_images()[0], "RGB")


def test_int8_evaluation_without_a_training_dataset_is_refused_by_name():
    from seg_d2.engine import Trainer
    from seg_d2.errors import ConfigError

    cfg = seg_d2.setup_config(UNET, ["MODEL.DEVICE", "cpu", "DATASETS.TRAIN", "()"])
    with pytest.raises(ConfigError, match="onnxruntime-int8 calibrates on DATASETS.TRAIN"):
        Trainer.calibration_loader(cfg)


def test_evenly_spaced_takes_count_items_from_the_first():
    assert onnx_backend.evenly_spaced(list(range(10)), 3) == [0, 3, 6]
    assert onnx_backend.evenly_spaced(list(range(10)), 4) == [0, 2, 5, 7]
    assert onnx_backend.evenly_spaced([1, 2], 5) == [1, 2]
    with pytest.raises(ValueError, match="must be positive, not 0"):
        onnx_backend.evenly_spaced([1], 0)


def test_int8_evaluation_calibrates_on_the_training_images(tiny_val, monkeypatch, tmp_path):
    from seg_d2.engine import Trainer

    from detectron2.data import DatasetCatalog

    _, calibrations = _quantised_convolutions(monkeypatch)
    scores = {}
    for backend in ("pytorch", "onnxruntime-int8"):
        cfg = seg_d2.setup_config(
            UNET,
            [
                *("MODEL.DEVICE", "cpu", "DATALOADER.NUM_WORKERS", "0"),
                *("DATASETS.TEST", f"('{tiny_val}_sem_seg',)", "TEST.BACKEND", backend),
                *("DATASETS.TRAIN", f"('{tiny_val}_sem_seg',)", "OUTPUT_DIR", str(tmp_path)),
                *("TEST.INT8.CALIBRATION_IMAGES", "2"),
            ],
        )
        torch.manual_seed(0)
        scores[backend] = Trainer.test(cfg, build_model(cfg).eval())["sem_seg"]
    files = [record["file_name"] for record in DatasetCatalog.get(f"{tiny_val}_sem_seg")]
    assert [item["file_name"] for item in calibrations[0]] == [files[0], files[2]]
    assert abs(scores["onnxruntime-int8"]["mIoU"] - scores["pytorch"]["mIoU"]) < 1.0


def test_masks_are_pasted_as_detectron2_pastes_them():
    from detectron2.layers.mask_ops import paste_masks_in_image

    generator = torch.Generator().manual_seed(0)
    height, width = 70, 90
    corners = torch.rand(40, 2, generator=generator) * torch.tensor([width + 10, height + 10]) - 5
    sizes = torch.rand(40, 2, generator=generator) * 30 + 0.2  # sub-pixel to a third of the image
    boxes = torch.cat([corners, corners + sizes], 1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
    coarse = torch.rand(len(boxes), 1, 5, 5, generator=generator)
    masks = torch.nn.functional.interpolate(coarse, size=(28, 28), mode="bilinear")[:, 0]
    want = paste_masks_in_image(masks, boxes, (height, width))
    got = onnx_backend.paste_masks(masks, boxes, (height, width))
    assert got.dtype == torch.bool and got.shape == (len(boxes), height, width)
    assert torch.equal(got, want)
    assert want.flatten(1).any(1).sum() > len(boxes) / 2  # most masks set some pixels
    for threshold in (0.3, 0.7):
        assert torch.equal(
            onnx_backend.paste_masks(masks, boxes, (height, width), threshold),
            paste_masks_in_image(masks, boxes, (height, width), threshold),
        )
    assert onnx_backend.paste_masks(masks[:0], boxes[:0], (height, width)).shape == (0, 70, 90)
