"""Semantic inference in overlapping windows (``TEST.SLIDING_WINDOW``), as
MMSegmentation's "slide" mode: each window's logits are added where it lies and divided
by how many windows covered each pixel, so an image larger than the model can take at
once is segmented at its own resolution, with every pixel seen in context."""

import torch
from detectron2.modeling.postprocessing import sem_seg_postprocess
from torch import nn

__all__ = ["SlidingWindowSemanticSegmentor", "window_origins", "window_stride"]


def window_stride(size, stride):
    """``stride``, or for 0 two thirds of the window's ``size``."""
    return stride or max(1, size * 2 // 3)


def window_origins(height, width, size, stride):
    """Top-left corners of ``size`` windows ``stride`` apart covering the image, the last
    of each row and column flush with the image's edge (a window is cut to an image
    smaller than it)."""

    def starts(length):
        last = max(length - size, 0)
        return sorted(set(range(0, last, stride)) | {last})

    return [(top, left) for top in starts(height) for left in starts(width)]


class SlidingWindowSemanticSegmentor(nn.Module):
    """A ``SemanticSegmentor`` run window by window; same inputs and outputs as its
    inference."""

    def __init__(self, model, size, stride=0):
        super().__init__()
        if size <= 0 or stride < 0:
            raise ValueError(
                f"TEST.SLIDING_WINDOW: SIZE must be positive and STRIDE not negative, "
                f"not {size} and {stride}"
            )
        self.model, self.size = model, size
        self.stride = window_stride(size, stride)

    def forward(self, batched_inputs):
        return [{"sem_seg": self._logits(inputs)} for inputs in batched_inputs]

    def _logits(self, inputs):
        image = inputs["image"]
        height, width = image.shape[-2:]
        total, covered = None, torch.zeros((height, width))
        for top, left in window_origins(height, width, self.size, self.stride):
            window = image[:, top : top + self.size, left : left + self.size]
            logits = self.model([{"image": window}])[0]["sem_seg"]
            if total is None:
                total = logits.new_zeros((logits.shape[0], height, width))
                covered = covered.to(logits.device)
            bottom, right = top + window.shape[1], left + window.shape[2]
            total[:, top:bottom, left:right] += logits
            covered[top:bottom, left:right] += 1
        total /= covered  # in place: on a large image each copy of the logits is large
        size = (inputs.get("height", height), inputs.get("width", width))
        if size == (height, width):
            return total
        return sem_seg_postprocess(total, (height, width), *size)
