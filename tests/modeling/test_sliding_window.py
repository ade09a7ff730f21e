"""Sliding-window semantic inference: where the windows go, stitched logits equal to
the whole image's for a per-pixel model, and how it composes with the config."""

import seg_d2
from seg_d2.modeling import (
    SemanticSegmentorWithTTA,
    SlidingWindowSemanticSegmentor,
    with_test_options,
)
from seg_d2.modeling.sliding_window import window_origins

import pytest
import torch
from detectron2.modeling import build_model
from torch import nn
from torch.nn import functional as F


def test_windows_cover_the_image_the_last_flush_with_its_edge():
    assert window_origins(10, 25, 10, 6) == [(0, 0), (0, 6), (0, 12), (0, 15)]
    assert window_origins(16, 16, 8, 8) == [(0, 0), (0, 8), (8, 0), (8, 8)]
    assert window_origins(5, 7, 10, 6) == [(0, 0)]  # a window larger than the image


class _PerPixel(nn.Module):
    """Logits from each pixel alone, as SemanticSegmentor returns them (at the input's
    height and width when given): any window gives the same values as the whole."""

    def __init__(self):
        super().__init__()
        self.classify = nn.Conv2d(3, 4, 1)
        self.calls = 0

    def forward(self, batched_inputs):
        self.calls += len(batched_inputs)
        outputs = []
        for inputs in batched_inputs:
            logits = self.classify(inputs["image"][None])
            size = (inputs.get("height", logits.shape[2]), inputs.get("width", logits.shape[3]))
            outputs.append({"sem_seg": F.interpolate(logits, size, mode="bilinear")[0]})
        return outputs


def test_stitched_windows_give_the_whole_images_logits_at_the_asked_size():
    torch.manual_seed(0)
    model = _PerPixel()
    image = torch.rand(3, 50, 70) * 255
    inputs = [{"image": image, "height": 100, "width": 140}]
    with torch.no_grad():
        whole = model(inputs)[0]["sem_seg"]
        slid = SlidingWindowSemanticSegmentor(model, size=32, stride=20)(inputs)[0]["sem_seg"]
    assert model.calls == 1 + len(window_origins(50, 70, 32, 20)) == 1 + 2 * 3
    torch.testing.assert_close(slid, whole, rtol=0, atol=1e-5)


def test_the_default_stride_is_two_thirds_of_the_window():
    assert SlidingWindowSemanticSegmentor(_PerPixel(), size=300).stride == 200
    assert SlidingWindowSemanticSegmentor(_PerPixel(), size=300, stride=7).stride == 7
    # windows of one or two pixels step by one
    assert [SlidingWindowSemanticSegmentor(_PerPixel(), size=s).stride for s in (1, 2)] == [1, 1]
    with pytest.raises(ValueError, match="SIZE must be positive"):
        SlidingWindowSemanticSegmentor(_PerPixel(), size=0)


def test_windows_taller_than_a_wide_image_stitch_its_logits():
    """A 12 x 70 image under 32-pixel windows: each window is 12 x 32."""
    torch.manual_seed(0)
    model = _PerPixel()
    inputs = [{"image": torch.rand(3, 12, 70) * 255}]
    with torch.no_grad():
        whole = model(inputs)[0]["sem_seg"]
        slid = SlidingWindowSemanticSegmentor(model, size=32, stride=20)(inputs)[0]["sem_seg"]
    torch.testing.assert_close(slid, whole, rtol=0, atol=1e-5)


def test_the_config_sets_the_windows_size_and_stride():
    cfg, model = _unet("TEST.SLIDING_WINDOW.SIZE", 96, "TEST.SLIDING_WINDOW.STRIDE", 40)
    windowed = with_test_options(cfg, model)
    assert (windowed.size, windowed.stride) == (96, 40)


def _unet(*opts):
    cfg = seg_d2.setup_config(
        "configs/shapes/unet.yaml", ["MODEL.DEVICE", "cpu", "MODEL.UNET.BASE_CHANNELS", 4, *opts]
    )
    return cfg, build_model(cfg).eval()


def test_one_window_as_large_as_the_image_is_the_plain_model():
    cfg, model = _unet("TEST.SLIDING_WINDOW.SIZE", 64)
    inputs = [{"image": torch.rand(3, 64, 64) * 255, "height": 64, "width": 64}]
    with torch.no_grad():
        slid = with_test_options(cfg, model)(inputs)[0]["sem_seg"]
        torch.testing.assert_close(slid, model(inputs)[0]["sem_seg"])


def test_the_config_slides_each_augmented_image():
    cfg, model = _unet("TEST.SLIDING_WINDOW.SIZE", 64, "TEST.AUG.ENABLED", True)
    wrapped = with_test_options(cfg, model)
    assert isinstance(wrapped, SemanticSegmentorWithTTA)
    assert isinstance(wrapped.model, SlidingWindowSemanticSegmentor)
    assert wrapped.model.model is model and wrapped.model.size == 64
    assert with_test_options(cfg, model, test_time_augmentation=False).model is model


def test_windows_are_refused_for_panoptic_models():
    cfg = seg_d2.setup_config(
        "configs/shapes/panoptic_fpn_R18.yaml",
        ["MODEL.DEVICE", "cpu", "TEST.SLIDING_WINDOW.SIZE", 128],
    )
    with pytest.raises(NotImplementedError, match="GeneralizedRCNN models, not PanopticFPN"):
        with_test_options(cfg, build_model(cfg))


def test_a_unet_slid_over_gives_the_whole_images_labels_away_from_window_edges():
    # Windows at 0 and 64 of a 256-px image: inner edges at 64 and 192. A depth-2 U-Net
    # sees about 30 px around a pixel, so farther than that from both, nothing differs.
    cfg, model = _unet(
        "MODEL.UNET.DEPTH", 2, "MODEL.SEM_SEG_HEAD.IN_FEATURES", "['level0', 'level1', 'level2']"
    )
    torch.manual_seed(0)
    inputs = [{"image": torch.rand(3, 256, 256) * 255}]
    with torch.no_grad():
        whole = model(inputs)[0]["sem_seg"]
        slid = SlidingWindowSemanticSegmentor(model, size=192, stride=64)(inputs)[0]["sem_seg"]
    for inside in (slice(0, 34), slice(94, 162), slice(222, 256)):
        torch.testing.assert_close(
            slid[:, inside, inside], whole[:, inside, inside], atol=1e-4, rtol=0
        )
        assert torch.equal(slid[:, inside, inside].argmax(0), whole[:, inside, inside].argmax(0))
    assert not torch.allclose(slid[:, :, 62:66], whole[:, :, 62:66], atol=1e-2)  # at an edge


def test_an_8000_pixel_image_needs_its_logits_and_coverage_and_little_more():
    from benchmarks.peak_memory import PeakMemory

    height = width = 8000
    image = torch.zeros(3, height, width)
    model = _PerPixel()  # 4 classes
    with torch.no_grad(), PeakMemory("cpu") as memory:
        logits = SlidingWindowSemanticSegmentor(model, size=1024)([{"image": image}])[0]["sem_seg"]
    assert logits.shape == (4, height, width)
    # The stated bound: the logits and the coverage count (C + 1 floats a pixel), and
    # 256 MiB for the windows' own work; a whole-image copy of the logits would exceed it.
    bound = (4 + 1) * height * width * 4 / 2**20 + 256
    assert memory.mebibytes <= bound


def test_a_window_of_one_pixel_is_still_a_window_and_none_is_the_plain_model():
    cfg, model = _unet("TEST.SLIDING_WINDOW.SIZE", 1)
    assert isinstance(with_test_options(cfg, model), SlidingWindowSemanticSegmentor)
    cfg, model = _unet("TEST.SLIDING_WINDOW.SIZE", 0)
    assert with_test_options(cfg, model) is model


def test_a_model_wrapped_for_several_processes_is_slid_over_unwrapped():
    from torch.nn.parallel import DistributedDataParallel

    cfg, model = _unet("TEST.SLIDING_WINDOW.SIZE", 64)
    wrapped = DistributedDataParallel.__new__(DistributedDataParallel)  # no process group
    nn.Module.__init__(wrapped)
    wrapped.module = model
    assert with_test_options(cfg, wrapped).model is model
