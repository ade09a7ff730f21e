"""Test-time augmentation from ``TEST.AUG``: detectron2's own for Mask R-CNN, the same
resizes and flips for semantic models, whose logits are averaged, and both for
PanopticFPN's two branches.

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
from detectron2.modeling.meta_arch.panoptic_fpn import combine_semantic_and_instance_outputs
from detectron2.modeling.test_time_augmentation import DatasetMapperTTA
from fvcore.transforms import HFlipTransform
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .sliding_window import SlidingWindowSemanticSegmentor

__all__ = ["PanopticFPNWithTTA", "SemanticSegmentorWithTTA", "with_test_time_augmentation"]


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


class PanopticFPNWithTTA(nn.Module):
    """A ``PanopticFPN`` whose instances come from detectron2's Mask R-CNN TTA and whose
    semantic logits are averaged as ``SemanticSegmentorWithTTA`` averages them, then
    combined as PanopticFPN combines its own. The two branches run as two views of the
    one model (its modules shared), each with its own pass of the backbone."""

    def __init__(self, cfg, model):
        super().__init__()
        self.model = model
        mean, std = model.pixel_mean.flatten().tolist(), model.pixel_std.flatten().tolist()
        detector = GeneralizedRCNN(
            backbone=model.backbone,
            proposal_generator=model.proposal_generator,
            roi_heads=model.roi_heads,
            pixel_mean=mean,
            pixel_std=std,
            input_format=model.input_format,
        )
        semantic = SemanticSegmentor(
            backbone=model.backbone, sem_seg_head=model.sem_seg_head, pixel_mean=mean, pixel_std=std
        )
        self.instances = GeneralizedRCNNWithTTA(cfg, detector.to(model.device))
        self.semantic = SemanticSegmentorWithTTA(cfg, semantic.to(model.device))
        self.train(model.training)  # the views start in training mode, as any new module

    def forward(self, batched_inputs):
        outputs = []
        for detected, semantic in zip(
            self.instances(batched_inputs), self.semantic(batched_inputs)
        ):
            instances, sem_seg = detected["instances"], semantic["sem_seg"]
            panoptic = combine_semantic_and_instance_outputs(
                instances,
                sem_seg.argmax(dim=0),
                self.model.combine_overlap_thresh,
                self.model.combine_stuff_area_thresh,
                self.model.combine_instances_score_thresh,
            )
            outputs.append({"sem_seg": sem_seg, "instances": instances, "panoptic_seg": panoptic})
        return outputs


def with_test_time_augmentation(cfg, model):
    """``model`` wrapped for ``cfg.TEST.AUG``; an error for a model it cannot augment
    (a setting that silently did nothing would report unaugmented numbers as augmented)."""
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    if isinstance(inner, PanopticFPN):
        return PanopticFPNWithTTA(cfg, inner)
    if isinstance(inner, GeneralizedRCNN):
        return GeneralizedRCNNWithTTA(cfg, inner)
    if isinstance(inner, (SemanticSegmentor, SlidingWindowSemanticSegmentor)):
        return SemanticSegmentorWithTTA(cfg, inner)
    raise NotImplementedError(
        f"TEST.AUG.ENABLED: test-time augmentation covers GeneralizedRCNN, PanopticFPN and "
        f"SemanticSegmentor models, not {type(inner).__name__} "
        f"(MODEL.META_ARCHITECTURE {cfg.MODEL.META_ARCHITECTURE!r}); set TEST.AUG.ENABLED False"
    )
