"""Each of seg_d2.compat's fixes is still needed by the installed detectron2 (0.6, the
release PyPI carries) beside current Pillow, NumPy, setuptools and PyTorch: without the
fix, the gap it closes is there. When one of these fails, detectron2 (or the library)
closed that gap, and the fix can go."""

import subprocess
import sys

import seg_d2  # noqa: F401
from seg_d2 import compat

import numpy
import pytest

# gap -> (code that meets it in a Python without seg_d2, the error it ends with)
WITHOUT_SEG_D2 = {
    "no compiled ops (detectron2._C) in the PyPI sdist": (
        "import detectron2._C",
        "No module named 'detectron2._C'",
    ),
    "Pillow 10 removed Image.LINEAR": (
        "import detectron2.data.transforms",
        "has no attribute 'LINEAR'",
    ),
    "setuptools 81 removed pkg_resources": (
        "import detectron2.model_zoo",
        "No module named 'pkg_resources'",
    ),
    "PyTorch removed caffe2": (
        "from PIL import Image; Image.LINEAR = Image.BILINEAR; import detectron2.export",
        "No module named 'caffe2'",
    ),
}


@pytest.mark.parametrize("gap", WITHOUT_SEG_D2)
def test_detectron2_without_seg_d2_still_meets_the_gap(gap, tmp_path):
    code, error = WITHOUT_SEG_D2[gap]
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert run.returncode != 0 and error in run.stderr.strip().splitlines()[-1]


def test_numpys_removed_aliases_are_still_used_by_detectron2(monkeypatch):
    import detectron2.data.build

    assert not hasattr(numpy, "int")
    monkeypatch.setattr(detectron2.data.build, "np", numpy)  # the fix taken away
    records = [{"annotations": [{"category_id": 0}]}]
    with pytest.raises(AttributeError, match="has no attribute 'int'"):
        detectron2.data.build.print_instances_class_histogram(records, ["a"])


def test_detectron2s_trainer_still_lacks_the_later_methods_compat_provides():
    from detectron2.engine import SimpleTrainer
    from detectron2.utils import comm

    assert not hasattr(SimpleTrainer, "reset_data_loader")  # compat.reset_data_loader
    assert not hasattr(comm, "create_local_process_group")  # compat's, and the CPU workers
    assert compat._workers_need_cuda()
