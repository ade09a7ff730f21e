"""seg_d2.compat's NumPy 2 fixes run against NumPy 2 itself: the compat tests that reach
detectron2 0.6's NumPy use, in a process that finds NumPy 2 first. (seg_d2's own
environment keeps NumPy 1, which panopticapi-lite requires; users may have NumPy 2.)
NumPy 2 is installed once into seg_d2's cache folder, beside the environment."""

import os
import subprocess
import sys

from seg_d2.env import cache_folder

import pytest
from helpers import REPO

NUMPY_2 = "2.2.6"
OVERLAY = cache_folder(f"numpy-{NUMPY_2}")
# tests/test_compat.py's tests of detectron2 0.6 code that uses np.int/np.float/np.bool or
# np.array(copy=False)
NUMPY_TESTS = [
    "test_legacy_paste_mask_runs_on_current_numpy",
    "test_old_numpy_reaches_only_detectron2",
    "test_detectron2s_class_histogram_runs_on_current_numpy",
    "test_sem_seg_evaluator_on_a_tiny_confusion_matrix",
    "test_bitmasks_polygonmasks_round_trip",
]


def with_numpy_2(*args):
    if not os.path.isdir(os.path.join(OVERLAY, "numpy")):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", OVERLAY]
            + [f"numpy=={NUMPY_2}"],
            check=True,
        )
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=OVERLAY),
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_compat_tests_pass_under_numpy_2():
    version = with_numpy_2("-c", "import numpy; print(numpy.__version__)")
    assert version.stdout.strip() == NUMPY_2, version.stderr
    run = with_numpy_2("-m", "pytest", "-q", "tests/test_compat.py", "-k", " or ".join(NUMPY_TESTS))
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"{len(NUMPY_TESTS)} passed" in run.stdout
