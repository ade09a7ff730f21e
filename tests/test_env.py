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
