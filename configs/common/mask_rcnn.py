"""Models on a ResNet + FPN from plain arguments: Mask R-CNN with seg_d2's mask head, and
detectron2's Semantic FPN; what ``build_model`` makes of the YAML keys named beside
each argument."""

from seg_d2.modeling import UpsampleMaskHead

from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling import GeneralizedRCNN, SemanticSegmentor
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.backbone import FPN, BasicStem, ResNet
from detectron2.modeling.backbone.fpn import LastLevelMaxPool
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.meta_arch.semantic_seg import SemSegFPNHead
from detectron2.modeling.poolers import ROIPooler
from detectron2.modeling.proposal_generator import RPN, StandardRPNHead
from detectron2.modeling.roi_heads import FastRCNNConvFCHead, FastRCNNOutputLayers, StandardROIHeads

SCALES = (1.0 / 4, 1.0 / 8, 1.0 / 16, 1.0 / 32)


def resnet_fpn(depth, norm, stride_in_1x1, fpn_channels, freeze_at):
    """``build_resnet_fpn_backbone`` of ``MODEL.RESNETS.*`` and ``MODEL.FPN.*``."""
    stages = dict(depth=depth, norm=norm)
    if depth >= 50:
        stages["stride_in_1x1"] = stride_in_1x1
    return L(FPN)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=64, norm=norm),
            stages=L(ResNet.make_default_stages)(**stages),
            out_features=["res2", "res3", "res4", "res5"],
            freeze_at=freeze_at,
        ),
        in_features="${.bottom_up.out_features}",
        out_channels=fpn_channels,
        top_block=L(LastLevelMaxPool)(),
    )


def mask_rcnn(
    *,
    depth,  # MODEL.RESNETS.DEPTH
    norm,  # MODEL.RESNETS.NORM
    stride_in_1x1,  # MODEL.RESNETS.STRIDE_IN_1X1 (bottleneck blocks only)
    fpn_channels,  # MODEL.FPN.OUT_CHANNELS
    anchor_sizes,  # MODEL.ANCHOR_GENERATOR.SIZES
    pre_nms_topk,  # MODEL.RPN.PRE_NMS_TOPK_TRAIN, _TEST
    post_nms_topk,  # MODEL.RPN.POST_NMS_TOPK_TRAIN, _TEST
    roi_batch_size,  # MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE
    box_fc_dim,  # MODEL.ROI_BOX_HEAD.FC_DIM
    mask_conv_dims,  # MODEL.ROI_MASK_HEAD.CONV_DIM x NUM_CONV
    sampling_ratio,  # MODEL.ROI_*_HEAD.POOLER_SAMPLING_RATIO
    detections_per_image,  # TEST.DETECTIONS_PER_IMAGE
    pixel_std,  # MODEL.PIXEL_STD
    freeze_at,  # MODEL.BACKBONE.FREEZE_AT
    num_classes=0,  # MODEL.ROI_HEADS.NUM_CLASSES, 0: from the data
):
    return L(GeneralizedRCNN)(
        backbone=resnet_fpn(depth, norm, stride_in_1x1, fpn_channels, freeze_at),
        proposal_generator=L(RPN)(
            in_features=["p2", "p3", "p4", "p5", "p6"],
            head=L(StandardRPNHead)(in_channels=fpn_channels, num_anchors=3),
            anchor_generator=L(DefaultAnchorGenerator)(
                sizes=anchor_sizes,
                aspect_ratios=[0.5, 1.0, 2.0],
                strides=[4, 8, 16, 32, 64],
                offset=0.0,
            ),
            anchor_matcher=L(Matcher)(
                thresholds=[0.3, 0.7], labels=[0, -1, 1], allow_low_quality_matches=True
            ),
            box2box_transform=L(Box2BoxTransform)(weights=[1.0, 1.0, 1.0, 1.0]),
            batch_size_per_image=256,
            positive_fraction=0.5,
            pre_nms_topk=pre_nms_topk,
            post_nms_topk=post_nms_topk,
            nms_thresh=0.7,
        ),
        roi_heads=L(StandardROIHeads)(
            num_classes=num_classes,
            batch_size_per_image=roi_batch_size,
            positive_fraction=0.25,
            proposal_matcher=L(Matcher)(
                thresholds=[0.5], labels=[0, 1], allow_low_quality_matches=False
            ),
            box_in_features=["p2", "p3", "p4", "p5"],
            box_pooler=L(ROIPooler)(
                output_size=7,
                scales=SCALES,
                sampling_ratio=sampling_ratio,
                pooler_type="ROIAlignV2",
            ),
            box_head=L(FastRCNNConvFCHead)(
                input_shape=ShapeSpec(channels=fpn_channels, height=7, width=7),
                conv_dims=[],
                fc_dims=[box_fc_dim, box_fc_dim],
            ),
            box_predictor=L(FastRCNNOutputLayers)(
                input_shape=ShapeSpec(channels=box_fc_dim),
                test_score_thresh=0.05,
                test_nms_thresh=0.5,
                test_topk_per_image=detections_per_image,
                box2box_transform=L(Box2BoxTransform)(weights=(10, 10, 5, 5)),
                num_classes="${..num_classes}",
            ),
            mask_in_features=["p2", "p3", "p4", "p5"],
            mask_pooler=L(ROIPooler)(
                output_size=14,
                scales=SCALES,
                sampling_ratio=sampling_ratio,
                pooler_type="ROIAlignV2",
            ),
            mask_head=L(UpsampleMaskHead)(
                input_shape=ShapeSpec(channels=fpn_channels, width=14, height=14),
                num_classes="${..num_classes}",
                conv_dims=mask_conv_dims,
                upsample_stages=1,  # MODEL.ROI_MASK_HEAD.UPSAMPLE_STAGES
                upsample_mode="bilinear",  # MODEL.ROI_MASK_HEAD.UPSAMPLE_MODE
                dice_weight=0.0,  # MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT
            ),
        ),
        pixel_mean=[103.530, 116.280, 123.675],
        pixel_std=pixel_std,
        input_format="BGR",
    )


def semantic_fpn(*, depth, norm, stride_in_1x1, fpn_channels, freeze_at, conv_dims, head_norm):
    """detectron2's SemanticSegmentor with its Semantic FPN head (``SemSegFPNHead``) on
    ``resnet_fpn``; ``MODEL.SEM_SEG_HEAD.CONVS_DIM`` is ``conv_dims``."""
    return L(SemanticSegmentor)(
        backbone=resnet_fpn(depth, norm, stride_in_1x1, fpn_channels, freeze_at),
        sem_seg_head=L(SemSegFPNHead)(
            input_shape={
                f"p{level}": ShapeSpec(channels=fpn_channels, stride=2**level)
                for level in (2, 3, 4, 5)
            },
            num_classes=0,  # 0: from the data
            conv_dims=conv_dims,
            common_stride=4,
            norm=head_norm,
            ignore_value=255,
        ),
        pixel_mean=[103.530, 116.280, 123.675],
        pixel_std=[57.375, 57.120, 58.395],
    )
