"""The README's "Your data in five commands" and the manual's next steps on the nuclei
(docs/own_data.md), run as written on a small synthetic dataset in the DSB2018 layout
(the real nuclei are not shipped). The training lines get a short schedule appended;
everything else is the pages' text."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO
from PIL import Image

PREDICTED_SAMPLE = "00071198d059ba7f5914a526d124d28e6d010c92466da21d4a04cd5413362552"
SHORT_SCHEDULE = (
    "SOLVER.MAX_ITER 2 SOLVER.IMS_PER_BATCH 2 INPUT.MIN_SIZE_TRAIN '(64,)' INPUT.MIN_SIZE_TEST 64 "
    "DATALOADER.NUM_WORKERS 0"
)


def _commands(page, marker):
    with open(os.path.join(REPO, page), encoding="utf-8") as f:
        block = re.search(
            rf"<!-- {marker}:.*?-->\n```bash\n(.*?)```\n<!-- /{marker} -->", f.read(), re.S
        ).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def readme_own_data_commands():
    """The README's five commands, then the manual's next ones."""
    return _commands("README.md", "own-data") + _commands("docs/own_data.md", "own-data-more")


def readme_own_data_python():
    with open(os.path.join(REPO, "docs", "own_data.md"), encoding="utf-8") as f:
        return re.search(
            r"<!-- own-data-python.*?-->\n```python\n(.*?)```\n<!-- /own-data-python -->",
            f.read(),
            re.S,
        ).group(1)


def _nuclei_like(root, rng):
    """Samples of 64x64 RGBA images with 3-6 blob 'nuclei', one mask PNG each (one with a hole)."""
    for index in range(8):
        sample = PREDICTED_SAMPLE if index == 0 else f"{index:064x}"
        image = rng.integers(0, 60, (64, 64, 4), dtype=np.uint8)
        image[..., 3] = 255
        yy, xx = np.mgrid[:64, :64]
        for k in range(int(rng.integers(3, 7))):
            cy, cx, r = rng.integers(10, 54), rng.integers(10, 54), rng.integers(4, 9)
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            if k == 0:
                mask &= (yy - cy) ** 2 + (xx - cx) ** 2 > 4
            image[mask, :3] = 200
            os.makedirs(root / sample / "masks", exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(root / sample / "masks" / f"{k}.png")
        os.makedirs(root / sample / "images", exist_ok=True)
        Image.fromarray(image, "RGBA").save(root / sample / "images" / f"{sample}.png")


@pytest.mark.slow
def test_readme_own_data_section_runs_as_written(tmp_path):
    commands = readme_own_data_commands()
    # the environment make test itself runs in: its seg-d2 first on PATH
    assert commands[0].startswith('export PATH="$(tools/env/bootstrap.sh)/bin:$PATH"')
    assert sum(command.startswith("seg-d2 ") for command in commands[1:6]) == 5
    for name in ("configs", "tools"):
        os.symlink(os.path.join(REPO, name), tmp_path / name)
    _nuclei_like(tmp_path / "datasets" / "nuclei" / "stage1_train", np.random.default_rng(0))
    path = f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"
    # seg-d2 imports this clone's seg_d2, whichever clone installed the environment
    python_path = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PATH": path, "PYTHONPATH": python_path}
    env["SEG_D2_CACHE_DIR"] = str(tmp_path / "cache")
    for command in commands[1:]:
        if command.startswith("seg-d2 train "):
            command = f"{command} {SHORT_SCHEDULE}"
        run = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, f"{command}\n{run.stderr[-3000:]}"
    python = subprocess.run(
        [sys.executable, "-c", readme_own_data_python()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert python.returncode == 0, python.stderr[-3000:]
    assert re.fullmatch(rf".*/{PREDICTED_SAMPLE}\.png \d+ nuclei\n", python.stdout), python.stdout
    for path in (
        "datasets/nuclei/nuclei_train.json",
        "datasets/nuclei/nuclei_val.json",
        "output/nuclei/mask_rcnn_R18_FPN/results.json",
        "output/nuclei/unet/results.json",
        "viz/nuclei/contact_sheet.png",
        "suggested.yaml",
        "preds/nuclei/coco_instances_results.json",
        f"preds/nuclei/overlays/{PREDICTED_SAMPLE}.png.png",
    ):
        assert (tmp_path / path).exists(), path
