"""Every config key seg_d2 adds to detectron2's, with its default."""
import os

import torch
from detectron2 import model_zoo
from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg as get_detectron2_cfg

from .data.coco import register_datasets_from_config

__all__ = ["add_seg_d2_config", "get_cfg", "load_config"]


def add_seg_d2_config(cfg):
    """Add seg_d2's keys to a detectron2 config, in place."""
    # A CPU-only user should need no override to run anything.
    cfg.MODEL.DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    # COCO-format datasets to register before training, each as
    # "name=path/to/instances.json:path/to/images"; this registers name,
    # name_sem_seg and name_panoptic (see seg_d2/data/coco.py).
    cfg.DATASETS.COCO_FORMAT = []

    # UpsampleMaskHead (seg_d2/modeling/mask_head.py); detectron2's NUM_CONV, CONV_DIM,
    # NORM and CLS_AGNOSTIC_MASK apply to it too.
    head = cfg.MODEL.ROI_MASK_HEAD
    head.UPSAMPLE_STAGES = 1  # x2 each: 14x14 RoI features -> 28x28 masks; 2 gives 56x56
    head.UPSAMPLE_MODE = "bilinear"  # or "deconv", detectron2's transposed convolution
    head.DICE_LOSS_WEIGHT = 0.0
    head.BOUNDARY_LOSS_WEIGHT = 0.0
    head.BOUNDARY_WIDTH = 1  # pixels each side of a mask edge the boundary term covers

    # U-Net encoder (seg_d2/modeling/unet_encoder.py), MODEL.BACKBONE.NAME "UNetEncoder".
    cfg.MODEL.UNET = CN()
    cfg.MODEL.UNET.DEPTH = 4  # down-samplings; features level0 (stride 1) .. level{DEPTH}
    cfg.MODEL.UNET.BASE_CHANNELS = 64  # channels of level0, doubled at each level
    cfg.MODEL.UNET.MAX_CHANNELS = 0  # a cap on that doubling (VGG's is 512); 0: none
    cfg.MODEL.UNET.NORM = "BN"
    cfg.MODEL.UNET.DOWNSAMPLE = "maxpool"  # or "conv", a strided 3x3 convolution
    cfg.MODEL.UNET.OUT_FEATURES = []  # empty: every level

    # UNetHead (seg_d2/modeling/unet_head.py), on any backbone's IN_FEATURES; detectron2's
    # NUM_CLASSES, IGNORE_VALUE, NORM and LOSS_WEIGHT (a factor on every term) apply too.
    sem = cfg.MODEL.SEM_SEG_HEAD
    sem.UPSAMPLE_MODE = "bilinear"  # or "deconv", the U-Net paper's 2x2 up-convolution
    sem.CROSS_ENTROPY_WEIGHT = 1.0
    sem.DICE_WEIGHT = 0.0
    sem.FOCAL_WEIGHT = 0.0
    sem.FOCAL_GAMMA = 2.0
    # Cross-entropy class weights: given one per class, or "inverse_frequency" to
    # compute them from the pixels of DATASETS.TRAIN when the model is built.
    sem.CLASS_WEIGHTS = []
    sem.CLASS_WEIGHTING = "none"  # or "inverse_frequency"

    # Keep the model's weights (and so its activations) in channels-last memory
    # format: convolutions with few channels run ~1.25x faster that way on CPU.
    cfg.MODEL.CHANNELS_LAST = False

    # Run training forward passes on CPU under torch.autocast in bfloat16 (weights,
    # gradients, optimizer and evaluation stay float32): ~1.9x faster steps on CPUs
    # with AMX or AVX512-BF16, slower on CPUs without. No effect on CUDA tensors;
    # on a GPU, detectron2's SOLVER.AMP.ENABLED is the switch.
    cfg.SOLVER.CPU_BF16_AUTOCAST = False

    # "SGD" (detectron2's) or "ADAMW" (as Mask2Former's key), with the same parameter
    # groups, LR schedule and gradient clipping; AdamW trains small models from scratch
    # in fewer iterations.
    cfg.SOLVER.OPTIMIZER = "SGD"

    # The metric whose best value's weights are kept as OUTPUT_DIR/best/model_best.pth
    # when TEST.EVAL_PERIOD > 0.
    cfg.SOLVER.BEST_CHECKPOINT_METRIC = "segm/AP"


def get_cfg():
    """detectron2's default config with seg_d2's keys added."""
    cfg = get_detectron2_cfg()
    add_seg_d2_config(cfg)
    return cfg


def load_config(config_file, opts=()):
    """A frozen-ready config from a YAML file, which may also be a path inside
    detectron2's model zoo (e.g. ``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml``),
    with ``KEY VALUE`` overrides applied last."""
    if not os.path.isfile(config_file):
        try:
            config_file = model_zoo.get_config_file(config_file)
        except RuntimeError:
            raise FileNotFoundError(
                f"config file {config_file!r} is neither a file nor in detectron2's model zoo"
            ) from None
    cfg = get_cfg()
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    register_datasets_from_config(cfg)
    return cfg
