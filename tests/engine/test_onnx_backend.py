"""The Predictor's ONNX Runtime backend gives the PyTorch model's outputs."""

import os

import seg_d2
from seg_d2.engine import Predictor, onnx_backend

import numpy as np
import pytest
import torch
from detectron2.modeling import build_model
from helpers import random_model

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
    with pytest.raises(ValueError, match="backend must be one of \\('pytorch', 'onnxruntime'\\)"):
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
