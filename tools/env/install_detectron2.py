"""Install detectron2 0.6 into the running interpreter from the one copy of its
sources that PyPI holds, without compiling its C++/CUDA ops.

The sdist ``pb1-detectron2==0.6`` carries detectron2's v0.6 Python package but
not ``detectron2/layers/csrc``, so its own ``setup.py`` fails while compiling.
We verify it by sha256, then package its ``detectron2`` tree (and the three
projects detectron2 0.6 installs under ``detectron2.projects``) as the
distribution ``detectron2==0.6``. ``seg_d2.compat`` covers the missing ``_C``.

An already importable detectron2 (say, one built from source with CUDA ops) is
kept as it is.
"""

import importlib.util
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST_REQUIREMENT = (
    "pb1-detectron2==0.6 "
    "--hash=sha256:5d2e9e51e523ec72f6a31cca04b0a515492e9514b773a3d134cedc0677170b29"
)

# detectron2 0.6's runtime requirements, without its build-, caffe2- and
# formatting-only ones (black, future, pydot).
RUNTIME_REQUIREMENTS = [
    "Pillow>=7.1",
    "matplotlib",
    "pycocotools>=2.0.2",
    "termcolor>=1.1",
    "yacs>=0.1.8",
    "tabulate",
    "cloudpickle",
    "tqdm>4.29.0",
    "tensorboard",
    "fvcore>=0.1.5,<0.1.6",
    "iopath>=0.1.7,<0.1.10",
    "omegaconf>=2.1",
    "hydra-core>=1.1",
]

SETUP_PY = """
from setuptools import find_packages, setup

projects = {{
    "detectron2.projects.point_rend": "projects/PointRend/point_rend",
    "detectron2.projects.deeplab": "projects/DeepLab/deeplab",
    "detectron2.projects.panoptic_deeplab": "projects/Panoptic-DeepLab/panoptic_deeplab",
}}
setup(
    name="detectron2",
    version="0.6",
    url="https://github.com/facebookresearch/detectron2",
    description="detectron2 0.6 (Python package only, from the pb1-detectron2 sdist)",
    packages=find_packages(include=["detectron2", "detectron2.*"]) + list(projects),
    package_dir=projects,
    package_data={{"detectron2.model_zoo": ["configs/**/*.yaml", "configs/**/*.py"]}},
    python_requires=">=3.6",
    install_requires={requirements!r},
)
"""


def pip(*args):
    subprocess.check_call([sys.executable, "-m", "pip", *args])


def main():
    if importlib.util.find_spec("detectron2") is not None:
        import detectron2

        print(
            f"keeping the installed detectron2 {detectron2.__version__} at {detectron2.__path__[0]}"
        )
        return
    with tempfile.TemporaryDirectory(prefix="detectron2-sdist-") as tmp:
        tmp = Path(tmp)
        (tmp / "requirement.txt").write_text(SDIST_REQUIREMENT + "\n")
        # Its setup.py imports torch even for metadata, hence no build isolation.
        pip(
            "download",
            "--no-deps",
            "--no-build-isolation",
            "--no-binary",
            ":all:",
            "--require-hashes",
            "-r",
            str(tmp / "requirement.txt"),
            "-d",
            str(tmp),
        )
        (sdist,) = tmp.glob("pb1-detectron2-0.6.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(tmp, filter="data")
        source = tmp / "pb1-detectron2-0.6"
        (source / "setup.py").write_text(SETUP_PY.format(requirements=RUNTIME_REQUIREMENTS))
        for stale in source.glob("*.egg-info"):
            subprocess.check_call(["rm", "-rf", str(stale)])
        pip("install", "--no-build-isolation", str(source))


if __name__ == "__main__":
    main()
