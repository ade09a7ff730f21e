"""A run folder is a model: once its training data is gone, its config, metadata and
weights still predict, with the dataset's class names and category ids."""

import json
import os
import shutil
import subprocess
import sys

from seg_d2.engine import Predictor
from seg_d2.errors import ConfigError

import numpy as np
import pytest
from helpers import MASK_RCNN, REPO, load_module, python_config_overrides, train_net_command


@pytest.fixture(scope="module")
def run_without_its_data(tiny_shapes, tmp_path_factory):
    data = tmp_path_factory.mktemp("data_then_deleted")
    shutil.copytree(tiny_shapes, data, dirs_exist_ok=True)
    run = tmp_path_factory.mktemp("run")
    command = train_net_command(
        MASK_RCNN, run, data, "SOLVER.MAX_ITER", "2", "TEST.EVAL_PERIOD", "0"
    )
    trained = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert trained.returncode == 0, trained.stderr[-3000:]
    shutil.rmtree(data)
    return run, trained.stdout


def test_the_config_and_model_dumps_go_to_the_log_file_not_the_console(run_without_its_data):
    run, console = run_without_its_data
    log = (run / "log.txt").read_text()
    for dump in ("Running with full config:", "Environment info:", "Model:\n"):
        assert dump in log and dump not in console
    assert "Starting training from iteration 0" in console


def test_the_run_folder_holds_the_test_datasets_classes(run_without_its_data):
    run_without_its_data, _ = run_without_its_data
    saved = json.loads((run_without_its_data / "metadata.json").read_text())
    assert saved["dataset"] == "tiny_val"
    assert saved["thing_classes"] == ["circle", "triangle", "square", "star"]
    predictor = Predictor.from_run(str(run_without_its_data), opts=["MODEL.DEVICE", "cpu"])
    assert predictor.metadata.thing_classes == saved["thing_classes"]
    assert predictor.metadata.thing_dataset_id_to_contiguous_id == {1: 0, 2: 1, 4: 2, 7: 3}


def test_predict_from_the_run_folder_alone(run_without_its_data, tiny_shapes, tmp_path):
    run_without_its_data, _ = run_without_its_data
    images = tmp_path / "images"
    shutil.copytree(tiny_shapes / "val", images)
    run = subprocess.run(
        [sys.executable, "tools/predict.py", "--run", str(run_without_its_data)]
        + ["--input", str(images), "--output", str(tmp_path / "out")]
        + ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "MODEL.DEVICE", "cpu"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "coco_instances_results.json").read_text())
    assert results and {r["category_id"] for r in results} <= {1, 2, 4, 7}  # shapes' own ids
    assert len(list((tmp_path / "out" / "overlays").iterdir())) == 4


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(ConfigError, match=rf"{tmp_path} is not a seg_d2 run folder: it has no "):
        Predictor.from_run(str(tmp_path))


def test_export_from_the_run_folder_alone(run_without_its_data, tiny_shapes, tmp_path):
    run_folder, _ = run_without_its_data
    export = load_module("tools/export_model.py").main
    path, _ = export(
        ["--run", str(run_folder), "--format", "safetensors", "--output", str(tmp_path)]
    )
    assert path == str(tmp_path / "model.safetensors")
    sample = str(sorted((tiny_shapes / "val").iterdir())[0])
    path, difference = export(
        ["--run", str(run_folder), "--format", "torchscript", "--output", str(tmp_path)]
        + ["--sample-image", sample, "MODEL.DEVICE", "cpu"]
    )
    assert path == str(tmp_path / "model.ts") and difference < 1e-4
    with pytest.raises(SystemExit):
        export(["--run", str(run_folder), "--format", "onnx", "--output", str(tmp_path)])


def test_visualize_from_the_run_folder_alone(run_without_its_data, tiny_shapes, tmp_path):
    """Pictures of new images need the run alone: its classes title the predictions."""
    run_folder, _ = run_without_its_data
    images = tmp_path / "images"
    shutil.copytree(tiny_shapes / "val", images)
    visualize = load_module("tools/visualize.py").main
    written, sheet = visualize(
        ["predict", "--run", str(run_folder), "--images", str(images)]
        + ["--output", str(tmp_path / "viz"), "MODEL.DEVICE", "cpu"]
    )
    assert sorted(os.path.basename(path) for path in written) == sorted(
        f"{name}.png" for name in os.listdir(images)
    )
    assert os.path.isfile(sheet)


def test_visualize_a_runs_dataset_needs_its_data(run_without_its_data, tmp_path):
    """--dataset with --run registers the run's datasets; with their files gone, the error
    names the missing JSON rather than an unregistered dataset."""
    run_folder, _ = run_without_its_data
    visualize = load_module("tools/visualize.py").main
    with pytest.raises(
        Exception, match=r"annotations/instances_train.json: cannot read the COCO JSON"
    ):
        visualize(
            ["predict", "--run", str(run_folder), "--dataset", "tiny_val"]
            + ["--output", str(tmp_path / "viz"), "MODEL.DEVICE", "cpu"]
        )


@pytest.mark.slow
def test_a_python_config_run_folder_predicts_without_its_data(tiny_shapes, tmp_path):
    """A Python (LazyConfig) config's run: LazyConfig's saved config.yaml and the
    metadata tell the predictor and the pictures everything, the data deleted."""
    data = tmp_path / "data"
    shutil.copytree(tiny_shapes, data)
    run_folder = tmp_path / "run"
    overrides = [
        *python_config_overrides(data, run_folder, size=128),
        "train.max_iter=2",
        "train.eval_period=0",
    ]
    config = os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.py")
    trained = subprocess.run(
        [sys.executable, "tools/train_net.py", "--config-file", config, *overrides],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    saved = json.loads((run_folder / "metadata.json").read_text())
    assert saved["config"] == "python" and saved["dataset"] == "tiny_val"
    images = tmp_path / "images"
    shutil.copytree(data / "val", images)
    shutil.rmtree(data)
    predictor = Predictor.from_run(str(run_folder))
    assert predictor.metadata.thing_classes == ["circle", "triangle", "square", "star"]
    output = predictor(np.zeros((100, 120, 3), np.uint8), "RGB")
    assert output["instances"].image_size == (100, 120)
    visualize = load_module("tools/visualize.py").main
    written, _ = visualize(
        ["predict", "--run", str(run_folder), "--images", str(images)]
        + ["--output", str(tmp_path / "viz")]
    )
    assert len(written) == 4
    export = load_module("tools/export_model.py").main
    with pytest.raises(ConfigError, match="run of a Python config; seg-d2 export takes"):
        export(["--run", str(run_folder), "--format", "safetensors", "--output", str(tmp_path)])


def test_the_metadata_file_is_the_first_processs_indented_json_of_the_test_dataset(
    tmp_path, monkeypatch
):
    import seg_d2
    from seg_d2.engine import run_folder

    cfg = seg_d2.load_config("configs/shapes/unet.yaml", ["DATASETS.TEST", "('shapes_val',)"])
    path = run_folder.write_run_metadata(str(tmp_path), cfg)
    text = (tmp_path / "metadata.json").read_text()
    assert path == str(tmp_path / "metadata.json") and text.startswith(
        '{\n "dataset": "shapes_val"'
    )
    saved = json.loads(text)
    assert saved["config"] == "yaml" and saved["thing_classes"][0] == "circle"
    assert set(saved["thing_dataset_id_to_contiguous_id"]) == {"1", "2", "4", "7"}
    monkeypatch.setattr(run_folder.comm, "is_main_process", lambda: False)
    assert run_folder.write_run_metadata(str(tmp_path / "other"), cfg) is None
    assert not (tmp_path / "other").exists()


def test_a_command_takes_a_config_file_or_a_run_folder_not_both():
    import argparse

    from seg_d2.engine.run_folder import add_model_arguments

    required = argparse.ArgumentParser()
    add_model_arguments(required)
    args = required.parse_args(["--config-file", "a.yaml"])
    assert (args.config_file, args.run, args.weights) == ("a.yaml", None, None)
    args = required.parse_args(["--run", "output/x", "--weights", "best/model_best.pth"])
    assert (args.config_file, args.run, args.weights) == (None, "output/x", "best/model_best.pth")
    for wrong in ([], ["--config-file", "a.yaml", "--run", "output/x"]):
        with pytest.raises(SystemExit):
            required.parse_args(wrong)
    optional = argparse.ArgumentParser()
    add_model_arguments(optional, required=False)
    assert optional.parse_args([]).config_file is None
