import os
import subprocess
import sys

import seg_d2


def test_env_command_names_detectron2_and_its_compiled_ops():
    out = subprocess.run(
        [sys.executable, "-m", "seg_d2", "env"], capture_output=True, text=True, check=True
    ).stdout
    import detectron2
    import torch

    lines = out.splitlines()
    assert lines[0].startswith(f"seg_d2 {seg_d2.__version__} @")
    assert (
        lines[1] == f"detectron2 {detectron2.__version__} @{os.path.dirname(detectron2.__file__)}"
    )
    assert "detectron2 compiled ops: " + ("yes" if seg_d2.compat.HAS_COMPILED_OPS else "no") in out
    assert "PyTorch" in out and torch.__version__ in out


def test_env_header_says_whether_the_compiled_ops_are_there(monkeypatch):
    """In-process, both ways (the command above sees only this machine's)."""
    from seg_d2 import compat, env

    import detectron2

    monkeypatch.setattr(env, "collect_detectron2_env_info", lambda: "TABLE")
    for present, says in (
        (True, "yes"),
        (False, "no (seg_d2 stand-in: rotated boxes and deformable convolution unavailable)"),
    ):
        monkeypatch.setattr(compat, "HAS_COMPILED_OPS", present)
        assert env.collect_env_info() == (
            f"seg_d2 {seg_d2.__version__} @{os.path.dirname(seg_d2.__file__)}\n"
            f"detectron2 {detectron2.__version__} @{os.path.dirname(detectron2.__file__)}\n"
            f"detectron2 compiled ops: {says}\nTABLE"
        )


def test_the_cache_folder_is_under_xdg_cache_home_or_the_home_cache(monkeypatch, tmp_path):
    from seg_d2.env import cache_folder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder("a") == os.path.join(str(tmp_path / "xdg"), "seg_d2", "a")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder("a") == os.path.join(str(tmp_path / "home"), ".cache", "seg_d2", "a")


def test_env_command_prints_the_table_in_process(capsys, monkeypatch):
    from seg_d2 import env

    monkeypatch.setattr(env, "collect_detectron2_env_info", lambda: "the table\n")
    assert env.run([]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"seg_d2 {seg_d2.__version__} @") and out.endswith("the table\n\n")
