"""tests/skip_policy.py: a skip for a reason it does not list fails the run, naming the
test; a listed reason passes."""

import os
import subprocess
import sys

from helpers import REPO
from skip_policy import STATED_SKIP_REASONS


def run_pytest(folder, body):
    (folder / "test_sample.py").write_text(body)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "skip_policy", "-p", "no:cacheprovider", "-q"],
        cwd=folder,
        env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "tests")),
        capture_output=True,
        text=True,
    )


def test_a_skip_without_a_stated_reason_fails_the_run(tmp_path):
    run = run_pytest(
        tmp_path,
        "import pytest\n\ndef test_ok():\n    pass\n\n"
        "def test_gone():\n    pytest.skip('some module is missing')\n",
    )
    assert run.returncode == 1, run.stdout
    assert "test_sample.py::test_gone: some module is missing" in run.stdout


def test_a_skip_for_a_stated_reason_passes(tmp_path):
    reason = sorted(STATED_SKIP_REASONS)[0]
    run = run_pytest(
        tmp_path,
        f"import pytest\n\n@pytest.mark.skipif(True, reason={reason!r})\ndef test_x():\n    pass\n",
    )
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout
