"""Semantic segmentors as LazyCall trees, with every value taken from a YAML config as
``build_model`` takes it: seg_d2's U-Net (``MODEL.UNET.*``) and the architectures of
segmentation_models_pytorch (``MODEL.SMP.*``), each with ``MODEL.SEM_SEG_HEAD``."""

import inspect

from seg_d2.modeling import LogitsHead, SMPModel
from seg_d2.modeling.losses import SemanticSegmentationLoss

from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling import (
    BACKBONE_REGISTRY,
    SEM_SEG_HEADS_REGISTRY,
    SemanticSegmentor,
    build_backbone,
)

from .configurable import from_config


def semantic_loss(cfg):
    """seg_d2's loss of ``MODEL.SEM_SEG_HEAD``, its class weights as written (set-up turns
    ["inverse_frequency"] into numbers from the data)."""
    weights = list(cfg.MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS)
    return from_config(SemanticSegmentationLoss, cfg, class_weights=weights or None)


def semantic_head(cfg, shapes):
    """``MODEL.SEM_SEG_HEAD.NAME`` on the backbone's ``shapes``, with seg_d2's loss where it
    takes one."""
    cls = SEM_SEG_HEADS_REGISTRY.get(cfg.MODEL.SEM_SEG_HEAD.NAME)
    takes_loss = "loss" in inspect.signature(cls.__init__).parameters
    built = {"loss": semantic_loss(cfg)} if takes_loss else {}
    return from_config(cls, cfg, shapes, **built)


def _input_shape(cfg):
    return ShapeSpec(channels=len(cfg.MODEL.PIXEL_MEAN))


def unet(cfg):
    """A SemanticSegmentor with ``MODEL.BACKBONE.NAME`` UNetEncoder."""
    encoder = BACKBONE_REGISTRY.get(cfg.MODEL.BACKBONE.NAME)
    return L(SemanticSegmentor)(
        backbone=from_config(encoder, cfg, _input_shape(cfg)),
        sem_seg_head=semantic_head(cfg, build_backbone(cfg).output_shape()),
        pixel_mean=list(cfg.MODEL.PIXEL_MEAN),
        pixel_std=list(cfg.MODEL.PIXEL_STD),
    )


def smp_segmentor(cfg):
    """A SemanticSegmentor with ``MODEL.BACKBONE.NAME`` SMPModel (whole smp architectures,
    giving logits) and seg_d2's LogitsHead; the architecture's number of classes is the
    head's, which set-up fills from the data."""
    return L(SemanticSegmentor)(
        backbone=from_config(
            SMPModel, cfg, _input_shape(cfg), num_classes="${..sem_seg_head.num_classes}"
        ),
        sem_seg_head=L(LogitsHead)(
            input_shape={"logits": L(ShapeSpec)(channels="${...num_classes}", stride=1)},
            num_classes=cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES,
            loss=semantic_loss(cfg),
        ),
        pixel_mean=list(cfg.MODEL.PIXEL_MEAN),
        pixel_std=list(cfg.MODEL.PIXEL_STD),
    )
