"""The ``seg-d2`` command: every subcommand named in its help, each with an example in its
own help; the tools as scripts of their own clone; a clear word without detectron2."""

import os
import shutil
import subprocess
import sys

from seg_d2.cli import COMMANDS, exit_status, main

import pytest
from helpers import REPO


def test_the_help_names_every_command_and_an_unknown_one_is_refused(capsys):
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    for name, (_, what) in COMMANDS.items():
        assert f"  {name}" in listing and what in listing
    lines = listing.splitlines()
    assert lines[:3] == [
        "usage: seg-d2 COMMAND [ARGS ...]",
        "",
        "Instance, semantic and panoptic segmentation on detectron2.",
    ]
    assert lines[-1] == "seg-d2 COMMAND --help shows a command's arguments, with examples."
    width = max(map(len, COMMANDS))
    assert lines[5 : 5 + len(COMMANDS)] == [
        f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()
    ]
    assert main(["-h"]) == 0 and capsys.readouterr().out == listing
    assert main(["trian"]) == 2
    assert "error: unknown command 'trian'" in capsys.readouterr().err
    assert main([]) == 2
    shown = capsys.readouterr()
    assert (shown.out, shown.err) == ("", listing)  # without a command: usage on stderr


def test_the_command_line_is_read_from_sys_argv_when_not_given(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["seg-d2", "--help"])
    assert main() == 0
    assert capsys.readouterr().out.startswith("usage: seg-d2 COMMAND")


def test_a_commands_result_is_its_exit_status_when_a_number_else_zero():
    assert [exit_status(result) for result in (0, 1, 2, None, {"sem_seg": {}}, "out")] == [
        0,
        1,
        2,
        0,
        0,
        0,
    ]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_commands_help_has_an_example(name, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["seg-d2"])
    with pytest.raises(SystemExit) as ended:
        main([name, "--help"])
    assert ended.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: seg-d2 {name}")
    assert f"seg-d2 {'train' if name == 'eval' else name}" in shown.split("\n", 1)[1]


def test_eval_is_train_with_eval_only(monkeypatch):
    seen = []
    monkeypatch.setattr("seg_d2.commands.train.run", lambda argv: seen.append(argv) or 0)
    assert main(["eval", "--config-file", "c.yaml"]) == 0
    assert seen == [["--eval-only", "--config-file", "c.yaml"]]


@pytest.mark.clone
def test_a_tool_imports_the_seg_d2_of_its_own_clone(tmp_path):
    """A second clone whose seg_d2 says so: its tool imports it, not the seg_d2 the shared
    environment was installed from (this clone)."""
    other = tmp_path / "other_clone"
    shutil.copytree(os.path.join(REPO, "tools"), other / "tools")
    shutil.copytree(
        os.path.join(REPO, "seg_d2"), other / "seg_d2", ignore=shutil.ignore_patterns("__pycache__")
    )
    with open(other / "seg_d2" / "__init__.py", "a") as f:
        f.write('\nprint("seg_d2 of the other clone")\n')
    run = subprocess.run(
        [sys.executable, str(other / "tools" / "plot_metrics.py"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("seg_d2 of the other clone\n")


def test_without_detectron2_importing_seg_d2_says_how_to_install_it():
    run = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['detectron2'] = None; import seg_d2"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "ModuleNotFoundError: seg_d2 needs detectron2, which PyPI does not carry: install it "
        "first (docs/install.md: `python tools/env/install_detectron2.py` from seg_d2's "
        "repository, or detectron2 built from source), then seg_d2"
    )


@pytest.mark.clone
def test_pip_install_gives_a_working_seg_d2_command(tmp_path):
    """``pip install .`` beside an installed detectron2 (this environment's; --no-deps, and
    no build isolation, so nothing is downloaded) installs the ``seg-d2`` script."""
    source = tmp_path / "clone"
    for name in ("pyproject.toml", "setup.py", "README.md"):
        os.makedirs(source, exist_ok=True)
        shutil.copy(os.path.join(REPO, name), source / name)
    shutil.copytree(
        os.path.join(REPO, "seg_d2"),
        source / "seg_d2",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    run = subprocess.run(
        [str(target / "bin" / "seg-d2"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert run.returncode == 0, run.stderr
    assert all(f"  {name} " in run.stdout for name in COMMANDS)
    assert run.stdout.startswith("usage: seg-d2 COMMAND")


def test_train_without_a_config_file_says_so(capsys):
    with pytest.raises(SystemExit) as ended:
        main(["train"])
    assert ended.value.code == 2
    assert "error: --config-file is required, e.g. configs/shapes/mask_rcnn_R18_FPN.yaml" in (
        capsys.readouterr().err
    )


def test_importing_seg_d2_warns_of_nothing():
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import seg_d2"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""


# Each command's usage, as argparse prints it (spaces collapsed): which arguments are
# required, their choices and counts.
USAGES = {
    "train": "[-h] [--config-file FILE] [--resume] [--eval-only] [--num-gpus NUM_GPUS] "
    "[--num-machines NUM_MACHINES] [--machine-rank MACHINE_RANK] [--dist-url DIST_URL] ...",
    "predict": "[-h] (--config-file CONFIG_FILE | --run RUN) [--weights WEIGHTS] --input INPUT "
    "[INPUT ...] --output OUTPUT [--batch-size BATCH_SIZE] [--device DEVICE] "
    "[--score-threshold SCORE_THRESHOLD] [--backend {pytorch,onnxruntime,onnxruntime-int8}] "
    "[--calibration-images CALIBRATION_IMAGES [CALIBRATION_IMAGES ...]] [opts ...]",
    "visualize": "[-h] --output OUTPUT [--dataset DATASET] [--num NUM] "
    "[--image-ids IMAGE_IDS [IMAGE_IDS ...]] [--config-file CONFIG_FILE | --run RUN] "
    "[--weights WEIGHTS] [--images IMAGES [IMAGES ...]] [--results RESULTS] [--compare] "
    "[--errors] [--score-threshold SCORE_THRESHOLD] [--columns COLUMNS] "
    "[--sheet-width SHEET_WIDTH] {dataset,predict,results} [opts ...]",
    "convert": "[-h] {mask-folders,instance-png,semantic-png,via,labelme,split} ...",
    "validate": "[-h] [--decode] json_file image_root",
    "suggest": "[-h] [--config-file CONFIG_FILE] [--output OUTPUT] json_file",
    "convert-weights": "[-h] source output",
    "export": "[-h] (--config-file CONFIG_FILE | --run RUN) [--weights WEIGHTS] "
    "[--format {torchscript,onnx,safetensors}] --output OUTPUT [--sample-image SAMPLE_IMAGE] ...",
    "combine-panoptic": "[-h] --instance-config INSTANCE_CONFIG --instance-weights "
    "INSTANCE_WEIGHTS --semantic-config SEMANTIC_CONFIG --semantic-weights SEMANTIC_WEIGHTS "
    "[--dataset DATASET] [--output-dir OUTPUT_DIR] ...",
    "plot": "[-h] [--output OUTPUT] output_dir",
    "env": "[-h]",
}
USAGES["eval"] = USAGES["train"]


def _help(name, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["seg-d2"])
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit):
        main([name, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_commands_usage_names_its_arguments_as_documented(name, capsys, monkeypatch):
    usage = " ".join(_help(name, capsys, monkeypatch).split("\n\n")[0].split())
    assert usage == f"usage: seg-d2 {name} {USAGES[name]}"


# train's help is detectron2's parser's; env's docstring has no indented example
@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"train", "eval", "env"}))
def test_each_commands_help_keeps_its_examples_lines_as_written(name, capsys, monkeypatch):
    import importlib

    docstring = importlib.import_module(COMMANDS[name][0]).__doc__
    example = next(line for line in docstring.splitlines() if line.startswith("    "))
    assert example in _help(name, capsys, monkeypatch).splitlines()
