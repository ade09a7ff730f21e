import subprocess
import sys

import seg_d2


def test_env_command_names_detectron2_and_its_compiled_ops():
    out = subprocess.run([sys.executable, "-m", "seg_d2", "env"], capture_output=True, text=True,
                         check=True).stdout
    assert "detectron2 0.6" in out or "detectron2 " in out
    assert "detectron2 compiled ops: " + ("yes" if seg_d2.compat.HAS_COMPILED_OPS else "no") in out
    assert "PyTorch" in out
