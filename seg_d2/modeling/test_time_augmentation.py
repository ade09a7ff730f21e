"""Test-time augmentation from ``TEST.AUG``: detectron2's own for Mask R-CNN, and the
same resizes and flips for semantic models, whose logits are averaged.

detectron2 0.6 has TTA for ``GeneralizedRCNN`` only, and its tools apply it beside the
plain evaluation; seg_d2's trainer applies it in place of the plain one whenever
``TEST.AUG.ENABLED`` is set, so ``--eval-only``, the evaluations during training and the
best checkpoint all score the augmented model.
"""

from collections import defaultdict

from detectron2.modeling import (
    GeneralizedRCNN,
    GeneralizedRCNNWithTTA,
    PanopticFPN,
    SemanticSegmentor,
)
from detectron2.modeling.test_time_augmentation import DatasetMapperTTA
from fvcore.transforms import HFlipTransform
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .sliding_window import SlidingWindowSemanticSegmentor

__all__ = ["SemanticSegmentorWithTTA", "with_test_time_augmentation"]


class SemanticSegmentorWithTTA(nn.Module):
    """A ``SemanticSegmentor`` whose per-pixel logits are averaged over the augmented
    images of ``DatasetMapperTTA``, each mapped back to the original image (the
    meta-architecture resizes them to ``height`` x ``width``; flipped ones are flipped
    back). Same inputs and outputs as ``SemanticSegmentor.forward`` in inference."""

    def __init__(self, cfg, model, tta_mapper=None):
        super().__init__()
        self.model = model
        self.tta_mapper = tta_mapper or DatasetMapperTTA(cfg)

    def forward(self, batched_inputs):
        return [{"sem_seg": self._average_logits(inputs)} for inputs in batched_inputs]

    def _average_logits(self, inputs):
        augmented = self.tta_mapper(inputs)
        # One batch per size: padded to a larger image's size in a batch, a smaller one
        # would get other logits near its borders than when run alone.
        by_size = defaultdict(list)
        for augmented_input in augmented:
            by_size[augmented_input["image"].shape[-2:]].append(augmented_input)
        total = 0
        for batch in by_size.values():
            for augmented_input, output in zip(batch, self.model(batch)):
                logits = output["sem_seg"]
                if any(isinstance(t, HFlipTransform) for t in augmented_input["transforms"]):
                    logits = logits.flip(dims=[2])
                total = total + logits
        return total / len(augmented)


def with_test_time_augmentation(cfg, model):
    """``model`` wrapped for ``cfg.TEST.AUG``; an error for a model it cannot augment
    (a setting that silently did nothing would report unaugmented numbers as augmented)."""
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    # PanopticFPN is a GeneralizedRCNN, but detectron2's TTA would drop its semantic output.
    if isinstance(inner, GeneralizedRCNN) and not isinstance(inner, PanopticFPN):
        return GeneralizedRCNNWithTTA(cfg, inner)
    if isinstance(inner, (SemanticSegmentor, SlidingWindowSemanticSegmentor)):
        return SemanticSegmentorWithTTA(cfg, inner)
    raise NotImplementedError(
        f"TEST.AUG.ENABLED: test-time augmentation covers GeneralizedRCNN and "
        f"SemanticSegmentor models, not {type(inner).__name__} "
        f"(MODEL.META_ARCHITECTURE {cfg.MODEL.META_ARCHITECTURE!r}); set TEST.AUG.ENABLED False"
    )
