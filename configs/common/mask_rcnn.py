"""Models on a ResNet + FPN as LazyCall trees, with every value taken from a YAML config
as ``build_model`` takes it: Mask R-CNN (Faster R-CNN without ``MODEL.MASK_ON``,
Panoptic FPN with a semantic head) and detectron2's Semantic FPN."""

from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling import (
    ANCHOR_GENERATOR_REGISTRY,
    GeneralizedRCNN,
    PanopticFPN,
    SemanticSegmentor,
    build_backbone,
)
from detectron2.modeling.backbone import FPN, BasicStem, ResNet
from detectron2.modeling.backbone.fpn import LastLevelMaxPool
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.poolers import ROIPooler
from detectron2.modeling.proposal_generator import RPN, RPN_HEAD_REGISTRY
from detectron2.modeling.roi_heads import (
    ROI_BOX_HEAD_REGISTRY,
    ROI_MASK_HEAD_REGISTRY,
    FastRCNNOutputLayers,
    ROIHeads,
    StandardROIHeads,
)

from .configurable import from_config
from .semantic import semantic_head

CLASSES_OF_ROI_HEADS = "${..num_classes}"


def resnet_fpn(cfg):
    """``build_resnet_fpn_backbone``: ``MODEL.RESNETS.*``, ``MODEL.FPN.*``."""
    resnets = cfg.MODEL.RESNETS
    stages = dict(depth=resnets.DEPTH, norm=resnets.NORM)
    if resnets.DEPTH >= 50:  # bottleneck blocks
        stages["stride_in_1x1"] = resnets.STRIDE_IN_1X1
    return L(FPN)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(
                in_channels=len(cfg.MODEL.PIXEL_MEAN),
                out_channels=resnets.STEM_OUT_CHANNELS,
                norm=resnets.NORM,
            ),
            stages=L(ResNet.make_default_stages)(**stages),
            out_features=list(resnets.OUT_FEATURES),
            freeze_at=cfg.MODEL.BACKBONE.FREEZE_AT,
        ),
        in_features=list(cfg.MODEL.FPN.IN_FEATURES),
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=L(LastLevelMaxPool)(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )


def rpn(cfg, shapes):
    """``MODEL.RPN.*`` and ``MODEL.ANCHOR_GENERATOR.*`` on the backbone's ``shapes``."""
    rpn_cfg = cfg.MODEL.RPN
    levels = [shapes[name] for name in rpn_cfg.IN_FEATURES]
    return from_config(
        RPN,
        cfg,
        shapes,
        head=from_config(RPN_HEAD_REGISTRY.get(rpn_cfg.HEAD_NAME), cfg, levels),
        anchor_generator=from_config(
            ANCHOR_GENERATOR_REGISTRY.get(cfg.MODEL.ANCHOR_GENERATOR.NAME), cfg, levels
        ),
        anchor_matcher=L(Matcher)(
            thresholds=list(rpn_cfg.IOU_THRESHOLDS),
            labels=list(rpn_cfg.IOU_LABELS),
            allow_low_quality_matches=True,
        ),
        box2box_transform=L(Box2BoxTransform)(weights=list(rpn_cfg.BBOX_REG_WEIGHTS)),
    )


def _pooler(head_cfg, in_features, shapes):
    return L(ROIPooler)(
        output_size=head_cfg.POOLER_RESOLUTION,
        scales=[1.0 / shapes[name].stride for name in in_features],
        sampling_ratio=head_cfg.POOLER_SAMPLING_RATIO,
        pooler_type=head_cfg.POOLER_TYPE,
    )


def roi_heads(cfg, shapes):
    """StandardROIHeads of ``MODEL.ROI_HEADS.*``, ``MODEL.ROI_BOX_HEAD.*`` and, with
    ``MODEL.MASK_ON``, ``MODEL.ROI_MASK_HEAD.*`` on the backbone's ``shapes``; the
    predictors take the heads' number of classes, which set-up fills from the data."""
    if cfg.MODEL.ROI_HEADS.NAME != StandardROIHeads.__name__:
        raise NotImplementedError(
            f"no Python twin for MODEL.ROI_HEADS.NAME {cfg.MODEL.ROI_HEADS.NAME!r}; use the YAML"
        )
    heads_cfg, box_cfg, mask_cfg = (
        cfg.MODEL.ROI_HEADS,
        cfg.MODEL.ROI_BOX_HEAD,
        cfg.MODEL.ROI_MASK_HEAD,
    )
    in_features = list(heads_cfg.IN_FEATURES)
    channels = shapes[in_features[0]].channels
    box_input = ShapeSpec(
        channels=channels, height=box_cfg.POOLER_RESOLUTION, width=box_cfg.POOLER_RESOLUTION
    )
    box_head_cls = ROI_BOX_HEAD_REGISTRY.get(box_cfg.NAME)
    box_head_output = box_head_cls(cfg, box_input).output_shape
    heads = dict(
        proposal_matcher=L(Matcher)(
            thresholds=list(heads_cfg.IOU_THRESHOLDS),
            labels=list(heads_cfg.IOU_LABELS),
            allow_low_quality_matches=False,
        ),
        box_in_features=in_features,
        box_pooler=_pooler(box_cfg, in_features, shapes),
        box_head=from_config(box_head_cls, cfg, box_input),
        box_predictor=from_config(
            FastRCNNOutputLayers,
            cfg,
            box_head_output,
            box2box_transform=L(Box2BoxTransform)(weights=list(box_cfg.BBOX_REG_WEIGHTS)),
            num_classes=CLASSES_OF_ROI_HEADS,
        ),
    )
    if cfg.MODEL.MASK_ON:
        mask_input = ShapeSpec(
            channels=channels, height=mask_cfg.POOLER_RESOLUTION, width=mask_cfg.POOLER_RESOLUTION
        )
        mask_classes = {} if mask_cfg.CLS_AGNOSTIC_MASK else {"num_classes": CLASSES_OF_ROI_HEADS}
        heads.update(
            mask_in_features=in_features,
            mask_pooler=_pooler(mask_cfg, in_features, shapes),
            mask_head=from_config(
                ROI_MASK_HEAD_REGISTRY.get(mask_cfg.NAME), cfg, mask_input, **mask_classes
            ),
        )
    else:
        heads.update(mask_in_features=None, mask_pooler=None, mask_head=None)
    plain = ROIHeads.from_config(cfg)  # classes and sampling, without its matcher
    del plain["proposal_matcher"]
    return L(StandardROIHeads)(**plain, train_on_pred_boxes=box_cfg.TRAIN_ON_PRED_BOXES, **heads)


def mask_rcnn(cfg):
    """``MODEL.META_ARCHITECTURE`` GeneralizedRCNN, or PanopticFPN with its
    ``MODEL.SEM_SEG_HEAD``."""
    shapes = build_backbone(cfg).output_shape()
    model = L(GeneralizedRCNN)(
        backbone=resnet_fpn(cfg),
        proposal_generator=rpn(cfg, shapes),
        roi_heads=roi_heads(cfg, shapes),
        input_format=cfg.INPUT.FORMAT,
        vis_period=cfg.VIS_PERIOD,
        pixel_mean=list(cfg.MODEL.PIXEL_MEAN),
        pixel_std=list(cfg.MODEL.PIXEL_STD),
    )
    if cfg.MODEL.META_ARCHITECTURE == "PanopticFPN":
        combine = cfg.MODEL.PANOPTIC_FPN.COMBINE
        model._target_ = PanopticFPN
        model.update(
            sem_seg_head=semantic_head(cfg, shapes),
            combine_overlap_thresh=combine.OVERLAP_THRESH,
            combine_stuff_area_thresh=combine.STUFF_AREA_LIMIT,
            combine_instances_score_thresh=combine.INSTANCES_CONFIDENCE_THRESH,
        )
    return model


def semantic_fpn(cfg):
    """detectron2's SemanticSegmentor on ``resnet_fpn`` with ``MODEL.SEM_SEG_HEAD``
    (its Semantic FPN head, ``SemSegFPNHead``)."""
    return L(SemanticSegmentor)(
        backbone=resnet_fpn(cfg),
        sem_seg_head=semantic_head(cfg, build_backbone(cfg).output_shape()),
        pixel_mean=list(cfg.MODEL.PIXEL_MEAN),
        pixel_std=list(cfg.MODEL.PIXEL_STD),
    )
