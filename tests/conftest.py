"""The fixtures the tests share (the helpers are in helpers.py)."""

# seg_d2 first: its compat fixes must apply before any test module imports detectron2.
import seg_d2  # noqa: F401

import pytest
from helpers import (
    MASK_RCNN,
    PANOPTIC_DATASETS,
    PANOPTIC_FPN,
    SEMANTIC_DATASETS,
    UNET,
    train_net,
    unregister,
)
from hypothesis import Phase, settings

# Every hypothesis test runs under this profile. No shrinking: a failing property reports
# its first failing example at once, where shrinking such examples (masks, label maps) ran
# for over 5 minutes. An example takes milliseconds; the deadline turns one that hangs or
# slows a hundredfold into a failure.
settings.register_profile(
    "seg_d2",
    max_examples=60,
    deadline=2000,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
settings.load_profile("seg_d2")


@pytest.fixture(scope="session")
def tiny_shapes(tmp_path_factory):
    """8 training and 4 validation images of shapes."""
    from seg_d2.data.shapes import generate_shapes_split

    data = tmp_path_factory.mktemp("tiny_shapes")
    generate_shapes_split(data, "train", seed=10, num_images=8)
    generate_shapes_split(data, "val", seed=11, num_images=4)
    return data


@pytest.fixture(scope="session")
def trained_panoptic_fpn(tiny_shapes, tmp_path_factory):
    """A PanopticFPN trained 40 iterations on the tiny split (evaluated at the end): its
    output folder, shared by the training test and the evaluation tests."""
    output_dir = tmp_path_factory.mktemp("panoptic_fpn")
    common = ("SOLVER.MAX_ITER", "40", "SOLVER.STEPS", "()")
    train_net(PANOPTIC_FPN, output_dir, tiny_shapes, *common, datasets=PANOPTIC_DATASETS)
    return output_dir


@pytest.fixture(scope="session")
def trained_mask_rcnn(tiny_shapes, tmp_path_factory):
    """The demo's Mask R-CNN trained 40 iterations on the tiny split: its output folder and
    log. Tests that train on from it work in a copy."""
    output_dir = tmp_path_factory.mktemp("mask_rcnn")
    log = train_net(
        MASK_RCNN, output_dir, tiny_shapes, "SOLVER.MAX_ITER", "40", "SOLVER.STEPS", "()"
    )
    return output_dir, log


@pytest.fixture(scope="session")
def trained_unet(tiny_shapes, tmp_path_factory):
    """The demo's U-Net trained 40 iterations on the tiny split: its output folder."""
    output_dir = tmp_path_factory.mktemp("unet")
    common = ("SOLVER.MAX_ITER", "40", "SOLVER.BASE_LR", "0.002")
    train_net(UNET, output_dir, tiny_shapes, *common, datasets=SEMANTIC_DATASETS)
    return output_dir


@pytest.fixture(scope="session")
def tiny_val(tiny_shapes):
    """The tiny validation split registered in-process, with all its variants."""
    from seg_d2.data import register_coco_dataset

    name = "tiny_registered_val"
    register_coco_dataset(
        name, tiny_shapes / "annotations" / "instances_val.json", tiny_shapes / "val"
    )
    yield name
    unregister(name)


@pytest.fixture
def single_process_group(tmp_path):
    """A gloo process group of this one process, destroyed after the test if the code
    under test left it alive."""
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.fixture
def tiny_datasets_removed_after():
    """For tests that register tiny_train and tiny_val in-process: other test modules
    register the same names with other files."""
    from detectron2.data import DatasetCatalog

    yield
    for name in ("tiny_train", "tiny_val"):
        if name in DatasetCatalog.list():
            unregister(name)
