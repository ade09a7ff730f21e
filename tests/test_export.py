"""Export: the TorchScript and ONNX files (the latter run by onnxruntime) give the
model's own outputs at the traced size and at another, the TorchScript file runs where
neither detectron2 nor seg_d2 is imported, and the tool checks what it wrote."""

import subprocess
import sys

from seg_d2.export import export_model, run_exported, traceable_model

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from helpers import load_module, random_model

MASK_RCNN = "configs/shapes/mask_rcnn_R18_FPN.yaml"
UNET = "configs/shapes/unet.yaml"


@pytest.mark.parametrize("format", ["torchscript", "onnx"])
@pytest.mark.parametrize("config", [MASK_RCNN, UNET])
def test_the_file_gives_the_models_outputs_at_any_size(config, format, tmp_path):
    _, model = random_model(config)
    traced_on, other = torch.rand(3, 128, 160) * 255, torch.rand(3, 96, 192) * 255
    path = export_model(model, traced_on, str(tmp_path), format=format)
    assert not model.training  # exporting leaves the model as it found it
    with torch.no_grad():
        for image in (traced_on, other):
            expected = traceable_model(model, image)(image)
            outputs = run_exported(path, image)
            assert len(outputs) == len(expected) and expected[0].numel() > 0
            for got, want in zip(outputs, expected):
                torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_mask_rcnn_exports_its_raw_detections(tmp_path):
    _, model = random_model(MASK_RCNN)
    image = torch.rand(3, 128, 160) * 255
    boxes, classes, masks, scores, image_size = torch.jit.load(
        export_model(model, image, str(tmp_path))
    )(image)
    with torch.no_grad():
        raw = model.inference([{"image": image}], do_postprocess=False)[0]
    assert masks.shape[1:] == (1, 28, 28) and image_size.tolist() == [128, 160]
    torch.testing.assert_close(boxes, raw.pred_boxes.tensor)
    torch.testing.assert_close(scores, raw.scores)
    torch.testing.assert_close(classes, raw.pred_classes)


def test_the_torchscript_file_runs_with_torch_alone(tmp_path):
    _, model = random_model(UNET)
    path = export_model(model, torch.rand(3, 64, 64) * 255, str(tmp_path))
    script = (
        "import sys, torch, torchvision\n"
        f"logits = torch.jit.load({path!r})(torch.rand(3, 64, 96) * 255)[0]\n"
        "print(tuple(logits.shape), 'detectron2' in sys.modules, 'seg_d2' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "(6, 64, 96) False False"


def test_models_export_cannot_trace_are_refused(tmp_path):
    _, model = random_model("configs/shapes/panoptic_fpn_R18.yaml")
    with pytest.raises(NotImplementedError, match="not PanopticFPN"):
        export_model(model, torch.rand(3, 64, 64) * 255, str(tmp_path))
    with pytest.raises(ValueError, match="'tflite'"):
        export_model(model, torch.rand(3, 64, 64) * 255, str(tmp_path), format="tflite")


def _export_with_the_tool(config, model, format, folder, *opts):
    """``tools/export_model.py`` on ``model``'s weights; (path, largest difference)."""
    DetectionCheckpointer(model, save_dir=str(folder)).save("trained")
    return load_module("tools/export_model.py").main(
        [
            *("--config-file", config, "--output", str(folder / "exported"), "--format", format),
            *("MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", str(folder / "trained.pth"), *opts),
        ]
    )


@pytest.mark.parametrize("format, file", [("torchscript", "model.ts"), ("onnx", "model.onnx")])
def test_the_tool_writes_the_file_and_checks_it(format, file, tmp_path, tiny_val):
    _, model = random_model(MASK_RCNN)
    path, difference = _export_with_the_tool(
        MASK_RCNN,
        model,
        format,
        tmp_path,
        *("MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "DATASETS.TEST", f"('{tiny_val}',)"),
    )
    assert path == str(tmp_path / "exported" / file)
    assert difference < 1e-4


def test_the_tool_writes_safetensors_weights_that_load_as_therandom_model(tmp_path):
    from seg_d2.engine.checkpoint import load_weights

    cfg, model = random_model(UNET)
    path, _ = _export_with_the_tool(UNET, model, "safetensors", tmp_path)
    assert path == str(tmp_path / "exported" / "model.safetensors")
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == ["model.safetensors"]
    torch.manual_seed(1)
    reloaded = load_weights(build_model(cfg), path).state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(reloaded[name], value), name


def test_the_command_traces_on_the_test_datasets_first_image_and_reports_the_difference(
    monkeypatch, tmp_path, capsys
):
    from seg_d2.commands import export as command
    from seg_d2.config import get_cfg

    from detectron2.data import DatasetCatalog

    cfg = get_cfg()
    cfg.DATASETS.TEST = ("export_command_test",)
    DatasetCatalog.register("export_command_test", lambda: [{"file_name": "first.png"}, {}])
    calls, image = [], torch.zeros(3, 4, 4)

    class Predictor:
        def __init__(self, given_cfg, model):
            calls.append(("predictor", given_cfg is cfg, model))

        def model_input(self, read, format):
            calls.append(("input", read, format))
            return {"image": image}

    def setup_config(config_file, overrides):
        calls.append(("config", config_file, overrides))
        return cfg

    outputs = [torch.ones(2), torch.zeros(0), torch.full((3,), 2.0)]
    monkeypatch.setattr(command.seg_d2, "setup_config", setup_config)
    monkeypatch.setattr(command, "load_model", lambda given: "model")
    monkeypatch.setattr(command, "Predictor", Predictor)
    monkeypatch.setattr(command, "read_image", lambda path, format: (path, format))
    monkeypatch.setattr(
        command,
        "export_model",
        lambda model, traced, output, format: (
            calls.append(("export", model, output, format)) or "model.ts"
        ),
    )
    monkeypatch.setattr(command, "traceable_model", lambda model, traced: lambda x: outputs)
    monkeypatch.setattr(
        command, "run_exported", lambda path, traced: [outputs[0] + 0.25, *outputs[1:]]
    )
    try:
        result = command.main(
            ["--config-file", "c.yaml", "--weights", "w.pth", "--output", str(tmp_path)]
            + ["SOLVER.MAX_ITER", "3"]
        )
    finally:
        DatasetCatalog.remove("export_command_test")
    assert result == ("model.ts", 0.25)
    assert calls == [
        ("config", "c.yaml", ["SOLVER.MAX_ITER", "3", "MODEL.WEIGHTS", "w.pth"]),
        ("predictor", True, "model"),
        ("input", ("first.png", "RGB"), "RGB"),
        ("export", "model", str(tmp_path), "torchscript"),
    ]
    assert capsys.readouterr().out == (
        "wrote model.ts; largest difference from the model on first.png: 2.50e-01\n"
    )
    outputs[:] = [torch.zeros(0)]  # nothing detected: no difference
    again = command.main(["--config-file", "c.yaml", "--output", "o", "--sample-image", "s.png"])
    assert again == ("model.ts", 0.0) and calls[-2] == ("input", ("s.png", "RGB"), "RGB")
