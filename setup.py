"""seg_d2 on top of an installed detectron2 (PyPI has no usable detectron2: see README)."""
from setuptools import find_packages, setup

setup(
    name="seg_d2",
    version="0.1.0",
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
