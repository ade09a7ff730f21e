"""The lint configuration (ruff.toml: detectron2's flake8 + isort + black at 100 columns)
holds for the whole repository, so CI fails on a finding."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_repository_is_clean_under_ruff(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, REPO], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_reports_a_line_over_100_columns(tmp_path):
    """The check above can fail: the configuration is found and enforces the length."""
    source = tmp_path / "long.py"
    source.write_text("x = " + repr("a" * 100) + "\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--config",
            os.path.join(REPO, "ruff.toml"),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "E501" in result.stdout, result.stdout + result.stderr
