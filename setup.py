"""seg_d2 on top of an installed detectron2 (PyPI has no usable detectron2: see README)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

# The version is written once, in seg_d2/__init__.py (importing seg_d2 would need detectron2).
VERSION = re.search(
    r'__version__ = "([^"]+)"', (Path(__file__).parent / "seg_d2" / "__init__.py").read_text()
).group(1)

setup(
    name="seg_d2",
    version=VERSION,
    description="Instance, semantic and panoptic segmentation as registered detectron2 components",
    packages=find_packages(include=["seg_d2", "seg_d2.*"]),
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.0",
        "torchvision",
        "numpy",
        "opencv-python-headless",
        "pycocotools",
        "faster-coco-eval",
        "panopticapi-lite",
        "tqdm",
        "tensorboard",
    ],
    extras_require={"test": ["pytest", "hypothesis"], "bench": ["segmentation-models-pytorch"]},
)
