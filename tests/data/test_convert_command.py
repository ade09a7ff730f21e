"""The convert command (python -m seg_d2.data.convert, seg-d2 convert): each layout's
options, bad input named without a traceback, UTF-8 inputs whatever the locale."""

import json
import os
import subprocess
import sys

from seg_d2.data import register_coco_dataset
from seg_d2.data.convert import (
    from_instance_pngs,
    from_labelme,
    from_mask_folders,
    from_semantic_pngs,
    from_via,
    split_coco_json,
)
from seg_d2.data.convert.__main__ import main as convert_command
from seg_d2.errors import DatasetError

import numpy as np
import pytest
from convert_samples import (
    H,
    W,
    _decoded,
    _image,
    _instance_pngs_in_class_folders,
    _instance_pngs_with_a_class_map,
    _labelme_folder,
    _mask_folders,
    _masks,
    _save,
    _semantic_pngs,
    _via_export,
)
from helpers import REPO, unregister
from PIL import Image


def _convert(capsys, *argv):
    """``python -m seg_d2.data.convert ARGV`` in this process; what it printed."""
    convert_command([str(arg) for arg in argv])
    return capsys.readouterr().out


def _same_json(a, b):
    with open(a) as f, open(b) as g:
        assert json.load(f) == json.load(g)


# What ``python -m seg_d2.data.convert ...`` runs (run_command(main)), for four layouts in
# one process.
_CONVERT_UNDER_AN_ASCII_LOCALE = """
import sys
from seg_d2.cli import run_command
from seg_d2.data.convert.__main__ import main

root = sys.argv[1]
for argv in (
    ["via", f"{root}/via/via.json", f"{root}/via/images", "--class-attribute", "kind"],
    ["labelme", f"{root}/labelme"],
    ["instance-png", f"{root}/mapped/images", f"{root}/mapped/ids",
     "--class-map", f"{root}/mapped/classes.json"],
    ["semantic-png", f"{root}/semantic/images", f"{root}/semantic/labels",
     "--classes", f"{root}/classes.txt", "--things", "Zelle"],
):
    run_command(main, [*argv, "--output", f"{root}/{argv[0]}.json"])
"""


def _rewrite_in_utf8(path, replace):
    text = path.read_text(encoding="utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def test_command_line_writes_a_dataset_that_registers_and_loads(tmp_path, capsys):
    _mask_folders(tmp_path / "data")
    out = tmp_path / "nuclei.json"
    printed = _convert(
        capsys, "mask-folders", tmp_path / "data", "--category", "nucleus", "--output", out
    )
    assert "instances: nucleus" in printed
    assert str(out) in printed.splitlines()[0]  # the summary's header names the JSON written
    assert f"DATASETS.COCO_FORMAT \"['nuclei={out}:{tmp_path / 'data'}']\"" in printed
    register_coco_dataset("converted", out, tmp_path / "data")
    try:
        from detectron2.data import DatasetCatalog

        records = DatasetCatalog.get("converted")
        assert [len(r["annotations"]) for r in records] == [3, 1]
        semantic = DatasetCatalog.get("converted_sem_seg")
        assert os.path.isfile(semantic[0]["sem_seg_file_name"])
    finally:
        unregister("converted")


def test_command_line_class_is_object_unless_given(tmp_path, capsys):
    _mask_folders(tmp_path / "folders")
    _convert(capsys, "mask-folders", tmp_path / "folders", "--output", tmp_path / "folders.json")
    _instance_pngs_in_class_folders(tmp_path)
    _convert(
        capsys,
        "instance-png",
        tmp_path / "images",
        tmp_path / "ids",
        "--output",
        tmp_path / "ids.json",
    )
    _via_export(tmp_path / "via")
    _convert(
        capsys,
        "via",
        tmp_path / "via" / "via.json",
        tmp_path / "via" / "images",
        "--output",
        tmp_path / "via.json",
    )
    for written in ("folders.json", "ids.json", "via.json"):
        decoded = _decoded(tmp_path / written)
        assert {name for masks in decoded.values() for name, _ in masks} == {"object"}, written


def test_command_line_gives_each_layouts_options_to_its_converter(tmp_path, capsys):
    class_map = _instance_pngs_with_a_class_map(tmp_path / "mapped")
    mapped = tmp_path / "mapped"
    _convert(
        capsys,
        "instance-png",
        mapped / "images",
        mapped / "ids",
        "--class-map",
        class_map,
        "--output",
        tmp_path / "mapped.json",
    )
    from_instance_pngs(str(mapped / "images"), str(mapped / "ids"), class_map=str(class_map)).write(
        str(tmp_path / "mapped_ref.json")
    )

    folders = tmp_path / "folders"
    _instance_pngs_in_class_folders(folders)
    _convert(
        capsys,
        "instance-png",
        folders / "images",
        folders / "ids",
        "--class-from-folder",
        "--output",
        tmp_path / "folders.json",
    )
    from_instance_pngs(str(folders / "images"), str(folders / "ids"), class_from_folder=True).write(
        str(tmp_path / "folders_ref.json")
    )

    semantic = tmp_path / "semantic"
    _semantic_pngs(semantic)
    classes = "0=background,1=cell,2=debris"
    _convert(
        capsys,
        "semantic-png",
        semantic / "images",
        semantic / "labels",
        "--classes",
        classes,
        "--things",
        "cell",
        "--instances",
        semantic / "ids",
        "--output",
        tmp_path / "semantic.json",
    )
    from_semantic_pngs(
        str(semantic / "images"),
        str(semantic / "labels"),
        classes,
        instances_dir=str(semantic / "ids"),
        things=["cell"],
    ).write(str(tmp_path / "semantic_ref.json"))

    via = tmp_path / "via"
    _via_export(via)
    _convert(
        capsys,
        "via",
        via / "via.json",
        via / "images",
        "--class-attribute",
        "kind",
        "--output",
        tmp_path / "via.json",
    )
    from_via(str(via / "via.json"), str(via / "images"), class_attribute="kind").write(
        str(tmp_path / "via_ref.json")
    )

    labelme = tmp_path / "labelme"
    labelme.mkdir()
    _labelme_folder(labelme)
    _convert(capsys, "labelme", labelme, "--output", tmp_path / "labelme.json")
    from_labelme(str(labelme)).write(str(tmp_path / "labelme_ref.json"))

    for layout in ("mapped", "folders", "semantic", "via", "labelme"):
        _same_json(tmp_path / f"{layout}.json", tmp_path / f"{layout}_ref.json")
    assert [name for name, _ in _decoded(tmp_path / "mapped.json")["x.jpg"]] == [
        "ring",
        "box",
        "ring",
    ]


def test_command_line_semantic_pngs_ignore_255_and_need_no_things(tmp_path, capsys):
    _semantic_pngs(tmp_path)
    out = tmp_path / "out.json"
    classes = ["--classes", "0=background,1=cell,2=debris", "--output", out]
    command = ["semantic-png", tmp_path / "images", tmp_path / "labels", *classes]
    _convert(capsys, *command)
    with open(out) as f:
        assert {c["name"]: c["isthing"] for c in json.load(f)["categories"]} == {
            "background": 0,
            "cell": 0,
            "debris": 0,
        }
    with pytest.raises(DatasetError, match=r"values \[255\] are not in the classes"):
        _convert(capsys, *command, "--ignore-value", "7")


def test_command_line_split_defaults_to_a_fifth_with_seed_0(tmp_path, capsys):
    for sample in "abcdefghij":
        _image(tmp_path / "data" / sample / "images" / f"{sample}.png")
        _save(
            str(tmp_path / "data" / sample / "masks" / "0.png"), _masks()[1].astype(np.uint8) * 255
        )
    from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "all.json"))
    printed = _convert(capsys, "split", tmp_path / "all.json")
    with open(tmp_path / "all_val.json") as f:
        default_val = json.load(f)
    assert printed == f"wrote {tmp_path / 'all_train.json'}\nwrote {tmp_path / 'all_val.json'}\n"
    assert len(default_val["images"]) == 2
    split_coco_json(str(tmp_path / "all.json"), 0.2)  # the function's default seed is 0 too
    with open(tmp_path / "all_val.json") as f:
        assert json.load(f) == default_val
    _convert(capsys, "split", tmp_path / "all.json", "--val-fraction", "0.5", "--seed", "3")
    with open(tmp_path / "all_val.json") as f:
        half = json.load(f)
    split_coco_json(str(tmp_path / "all.json"), 0.5, seed=3)
    with open(tmp_path / "all_val.json") as f:
        assert json.load(f) == half and len(half["images"]) == 5


def test_command_line_names_bad_input_without_a_traceback(tmp_path):
    _mask_folders(tmp_path / "data", _masks() + [np.ones((H + 1, W), bool)])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "seg_d2.data.convert",
            "mask-folders",
            str(tmp_path / "data"),
            "--output",
            str(tmp_path / "out.json"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 1
    assert (
        "error: 1 problem(s) in the input; nothing was written" in run.stderr
        and "Traceback" not in run.stderr
    )
    assert not (tmp_path / "out.json").exists()


def test_convert_command_reads_its_inputs_as_utf8_whatever_the_locale(tmp_path):
    """Class names in UTF-8 (as VIA, labelme and editors write them) under a locale whose
    default encoding is ASCII, as on a machine or container without a UTF-8 locale; the
    command's own process, so its log lines too."""
    _via_export(tmp_path / "via")
    _rewrite_in_utf8(tmp_path / "via" / "via.json", {'"disc"': '"Scheibe \u00e4"'})
    (tmp_path / "labelme").mkdir()
    _labelme_folder(tmp_path / "labelme")
    _rewrite_in_utf8(tmp_path / "labelme" / "x.json", {'"ring"': '"anneau \u00e9"'})
    _rewrite_in_utf8(
        _instance_pngs_with_a_class_map(tmp_path / "mapped"), {'"box"': '"bo\u00eete"'}
    )
    _semantic_pngs(tmp_path / "semantic")
    (tmp_path / "classes.txt").write_text("Hintergrund\nZelle\nTr\u00fcmmer\n", encoding="utf-8")
    ascii_locale = {
        **os.environ,
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
    }
    run = subprocess.run(
        [sys.executable, "-c", _CONVERT_UNDER_AN_ASCII_LOCALE, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=ascii_locale,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "instances: Scheibe \\xe4" in run.stdout  # escaped for the ASCII terminal
    # the command's log lines: level and message
    assert "WARNING skipped 1 unusable mask(s)/shape(s) (1 point region has no area)" in run.stderr
    assert "WARNING skipped 1 unusable mask(s)/shape(s) (1 point shape has no area)" in run.stderr
    names = {}
    for layout in ("via", "labelme", "instance-png", "semantic-png"):
        with open(tmp_path / f"{layout}.json", encoding="utf-8") as f:
            names[layout] = sorted(c["name"] for c in json.load(f)["categories"])
    assert names == {
        "via": ["Scheibe \u00e4", "box"],
        "labelme": ["anneau \u00e9", "cell"],
        "instance-png": ["bo\u00eete", "ring"],
        "semantic-png": ["Hintergrund", "Tr\u00fcmmer", "Zelle"],
    }


def test_command_line_requires_a_layout_its_output_and_semantic_classes(tmp_path, capsys):
    for argv, missing in (
        ([], "layout"),
        (["labelme", str(tmp_path)], "--output"),
        (["semantic-png", "images", "labels", "--output", "out.json"], "--classes"),
    ):
        with pytest.raises(SystemExit) as exit:
            convert_command(argv)
        assert exit.value.code == 2
        assert f"the following arguments are required: {missing}" in capsys.readouterr().err


def test_command_line_semantic_things_and_ignore_value(tmp_path, capsys):
    """--things is a comma-separated list; --ignore-value is a label value like any
    other (here 2: the debris pixels are then unlabelled, not a class)."""
    _semantic_pngs(tmp_path)
    out = tmp_path / "out.json"
    command = ["semantic-png", tmp_path / "images", tmp_path / "labels", "--output", out]
    _convert(
        capsys, *command, "--classes", "0=background,1=cell,2=debris", "--things", "cell,debris"
    )
    with open(out) as f:
        assert {c["name"]: c["isthing"] for c in json.load(f)["categories"]} == {
            "background": 0,
            "cell": 1,
            "debris": 1,
        }
    labels = np.asarray(Image.open(tmp_path / "labels" / "x.png")).copy()
    labels[labels == 255] = 0
    _save(str(tmp_path / "labels" / "x.png"), labels)
    _convert(capsys, *command, "--classes", "0=background,1=cell", "--ignore-value", "2")
    assert [name for name, _ in _decoded(out)["x.png"]] == ["background", "cell"]


def test_command_line_help_shows_the_docstring_as_written(capsys):
    from seg_d2.data import validate
    from seg_d2.data.convert import __main__ as convert

    for module in (convert, validate):
        with pytest.raises(SystemExit):
            module.main(["--help"])
        assert module.__doc__.strip() in capsys.readouterr().out, module.__name__
