"""Panoptic output from two models trained apart: a Mask R-CNN for the things and a
semantic model for the stuff, combined as PanopticFPN combines its own two branches
(detectron2's ``combine_semantic_and_instance_outputs``), so nothing is retrained."""

import torch
from detectron2.config import configurable
from detectron2.modeling.meta_arch.panoptic_fpn import combine_semantic_and_instance_outputs
from torch import nn

__all__ = ["PosthocPanoptic", "to_stuff_only_scores"]


def to_stuff_only_scores(scores, num_thing_classes):
    """(K things + S stuff, H, W) semantic scores -> (1 + S, H, W) in PanopticFPN's
    separated space: channel 0, "things", is the best thing score."""
    things = scores[:num_thing_classes].max(0, keepdim=True).values
    return torch.cat([things, scores[num_thing_classes:]])


class PosthocPanoptic(nn.Module):
    @configurable
    def __init__(
        self,
        instance_model,
        semantic_model,
        *,
        num_thing_classes,
        overlap_threshold=0.5,
        stuff_area_threshold=4096,
        instances_score_threshold=0.5,
    ):
        """
        Args:
            instance_model: returns ``{"instances": ...}`` per image (GeneralizedRCNN).
            semantic_model: returns ``{"sem_seg": (K + S, H, W)}`` per image, labels in
                seg_d2's shared thing+stuff space (a model trained on a ``_sem_seg`` dataset).
            num_thing_classes: K.
            The thresholds are those of ``MODEL.PANOPTIC_FPN.COMBINE``.
        """
        super().__init__()
        self.instance_model, self.semantic_model = instance_model, semantic_model
        self.num_thing_classes = num_thing_classes
        self.overlap_threshold = overlap_threshold
        self.stuff_area_threshold = stuff_area_threshold
        self.instances_score_threshold = instances_score_threshold

    @classmethod
    def from_config(cls, cfg, instance_model, semantic_model):
        """``cfg`` is the instance model's: its classes and PanopticFPN's COMBINE thresholds."""
        combine = cfg.MODEL.PANOPTIC_FPN.COMBINE
        return {
            "instance_model": instance_model,
            "semantic_model": semantic_model,
            "num_thing_classes": cfg.MODEL.ROI_HEADS.NUM_CLASSES,
            "overlap_threshold": combine.OVERLAP_THRESH,
            "stuff_area_threshold": combine.STUFF_AREA_LIMIT,
            "instances_score_threshold": combine.INSTANCES_CONFIDENCE_THRESH,
        }

    def forward(self, batched_inputs):
        """Per image: ``instances``, ``sem_seg`` (separated space) and ``panoptic_seg``,
        as PanopticFPN returns them."""
        results = []
        for things, semantic in zip(
            self.instance_model(batched_inputs), self.semantic_model(batched_inputs)
        ):
            scores = to_stuff_only_scores(semantic["sem_seg"], self.num_thing_classes)
            panoptic = combine_semantic_and_instance_outputs(
                things["instances"],
                scores.argmax(0),
                self.overlap_threshold,
                self.stuff_area_threshold,
                self.instances_score_threshold,
            )
            results.append(
                {"instances": things["instances"], "sem_seg": scores, "panoptic_seg": panoptic}
            )
        return results
