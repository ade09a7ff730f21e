"""Every config key seg_d2 adds to detectron2's, with its default (reading and setting
up a config: ``seg_d2/config_setup.py``)."""

from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg as get_detectron2_cfg

__all__ = ["INVERSE_FREQUENCY", "add_seg_d2_config", "get_cfg"]


# The CLASS_WEIGHTS entry that asks for weights from the training labels.
INVERSE_FREQUENCY = "inverse_frequency"

# Renamed so that every head names its loss factors alike (ROI_MASK_HEAD.DICE_LOSS_WEIGHT)
# and evaluation keys live under TEST.
_RENAMED_KEYS = {
    "MODEL.SEM_SEG_HEAD.CROSS_ENTROPY_WEIGHT": "MODEL.SEM_SEG_HEAD.CROSS_ENTROPY_LOSS_WEIGHT",
    "MODEL.SEM_SEG_HEAD.DICE_WEIGHT": "MODEL.SEM_SEG_HEAD.DICE_LOSS_WEIGHT",
    "MODEL.SEM_SEG_HEAD.FOCAL_WEIGHT": "MODEL.SEM_SEG_HEAD.FOCAL_LOSS_WEIGHT",
    "SOLVER.BEST_CHECKPOINT_METRIC": "TEST.BEST_CHECKPOINT_METRIC",
    "SOLVER.CPU_BF16_AUTOCAST": (
        "SOLVER.AMP.ENABLED",
        "on a CPU, SOLVER.AMP.ENABLED trains under bfloat16 autocast",
    ),
    "MODEL.SEM_SEG_HEAD.CLASS_WEIGHTING": (
        "MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS",
        f'CLASS_WEIGHTING inverse_frequency is CLASS_WEIGHTS ["{INVERSE_FREQUENCY}"]',
    ),
}


def add_seg_d2_config(cfg):
    """Add seg_d2's keys to a detectron2 config, in place; detectron2's own defaults stay
    as they are."""
    # COCO-format datasets to register before training, each as
    # "name=path/to/instances.json:path/to/images"; this registers name,
    # name_sem_seg and name_panoptic (see seg_d2/data/coco.py).
    cfg.DATASETS.COCO_FORMAT = []

    # Augmentations after detectron2's resize/flip/crop, each a call of one in
    # detectron2.data.transforms with literal arguments (seg_d2/data/augmentation.py),
    # e.g. ["RandomBrightness(0.8, 1.2)", "RandomRotation([-15, 15], expand=False)"].
    cfg.INPUT.EXTRA_AUGMENTATIONS = []

    # 0: the number of classes of the training dataset (its metadata), set by
    # setup_config; a number that disagrees with the dataset is an error.
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 0
    cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = 0

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
    # "bilinear" (interpolation + 3x3 conv), "deconv" (the U-Net paper's 2x2
    # up-convolution) or "nearest" (interpolation alone, no conv: smp's Unet decoder).
    sem.UPSAMPLE_MODE = "bilinear"
    # Width of each decoder level, finest first, one per IN_FEATURES but the coarsest
    # (as smp's decoder_channels); empty: each as wide as the skip feature it joins.
    sem.DECODER_CHANNELS = []
    sem.CROSS_ENTROPY_LOSS_WEIGHT = 1.0
    sem.DICE_LOSS_WEIGHT = 0.0
    sem.FOCAL_LOSS_WEIGHT = 0.0
    sem.FOCAL_GAMMA = 2.0
    # Cross-entropy class weights: one number per class, or ["inverse_frequency"] to
    # have setup_config compute them from the pixels of DATASETS.TRAIN; the numbers then
    # stand in the config a run saves and in its checkpoint, so a model builds without
    # its training data.
    sem.CLASS_WEIGHTS = []

    # Any segmentation_models_pytorch architecture as the backbone "SMPModel"
    # (seg_d2/modeling/smp_model.py), with SEM_SEG_HEAD.NAME "LogitsHead" for seg_d2's
    # losses; its number of classes is SEM_SEG_HEAD.NUM_CLASSES.
    cfg.MODEL.SMP = CN()
    cfg.MODEL.SMP.ARCHITECTURE = "DeepLabV3Plus"  # an smp class: PSPNet, FPN, Segformer, ...
    cfg.MODEL.SMP.ENCODER = "resnet18"  # an smp encoder: mit_b0, tu-hrnet_w18 (timm), ...
    cfg.MODEL.SMP.ENCODER_DEPTH = 5
    cfg.MODEL.SMP.ENCODER_WEIGHTS = ""  # a local state-dict file; "": from scratch
    # Keyword arguments of the architecture, by their smp names (decoder_channels: 128).
    cfg.MODEL.SMP.ARCHITECTURE_ARGS = CN(new_allowed=True)

    # Keep the model's weights (and so its activations) in channels-last memory
    # format, which CPU convolutions with few channels prefer.
    cfg.MODEL.CHANNELS_LAST = False

    # detectron2's SOLVER.AMP.ENABLED also holds on a CPU: training forward passes run
    # under bfloat16 autocast there (seg_d2.engine.CPUAutocastTrainer), as they run
    # under float16 autocast on a GPU (detectron2's AMPTrainer).

    # An exponential moving average of the weights, updated after every step, evaluated
    # in their place and taken by every load but --resume (seg_d2/engine/model_ema.py;
    # d2go's keys). DECAY: per step, at most (1 + n) / (10 + n) after n updates; about
    # 1 / (1 - DECAY) steps are averaged.
    cfg.MODEL_EMA = CN()
    cfg.MODEL_EMA.ENABLED = False
    cfg.MODEL_EMA.DECAY = 0.999

    # "SGD" (detectron2's) or "ADAMW" (as Mask2Former's key), with the same parameter
    # groups, LR schedule and gradient clipping; AdamW trains small models from scratch
    # in fewer iterations.
    cfg.SOLVER.OPTIMIZER = "SGD"

    # One optimizer step per this many loader batches, each of IMS_PER_BATCH / this
    # many images (over all processes): IMS_PER_BATCH, and so the learning rate that
    # goes with it, is the batch of one step, e.g. a published 16 on one device.
    cfg.SOLVER.ACCUMULATE_GRAD_STEPS = 1

    # The batch size BASE_LR was chosen for: a config (or override) with another
    # SOLVER.IMS_PER_BATCH gets BASE_LR scaled in proportion (the linear scaling rule
    # of Goyal et al. 2017, for SGD), and this key then set to IMS_PER_BATCH so that
    # the config saved with a run is not scaled again. 0: BASE_LR is used as given.
    cfg.SOLVER.REFERENCE_IMS_PER_BATCH = 0

    # The metric whose best value's weights are kept as OUTPUT_DIR/best/model_best.pth
    # when TEST.EVAL_PERIOD > 0.
    cfg.TEST.BEST_CHECKPOINT_METRIC = "segm/AP"

    # Early stopping: training ends after this many evaluations (TEST.EVAL_PERIOD) in a
    # row without a gain in TEST.BEST_CHECKPOINT_METRIC, as ultralytics' ``patience``;
    # best/model_best.pth keeps the best weights. 0: train for SOLVER.MAX_ITER.
    cfg.SOLVER.PATIENCE = 0

    # Where training's metrics go besides metrics.json and the console
    # (seg_d2/engine/tracking.py): "tensorboard" (detectron2's events file), "mlflow" or
    # "wandb" (optional packages, imported only when chosen).
    cfg.TRACKING = CN()
    cfg.TRACKING.BACKEND = "tensorboard"
    # The MLflow experiment, or the W&B project.
    cfg.TRACKING.PROJECT = "seg_d2"
    # The run's name; "": OUTPUT_DIR's folder name.
    cfg.TRACKING.RUN_NAME = ""
    # An MLflow tracking server's address (e.g. http://host:5000); "": a SQLite store in
    # OUTPUT_DIR/mlflow.db, its artifacts in OUTPUT_DIR/mlruns.
    cfg.TRACKING.MLFLOW_URI = ""
    # W&B's mode: "offline" (files in OUTPUT_DIR/wandb, uploaded later by `wandb sync`),
    # "online" (needs `wandb login`) or "disabled".
    cfg.TRACKING.WANDB_MODE = "offline"

    # Inference in windows of SIZE x SIZE pixels of the resized test image, STRIDE
    # apart: a semantic model's logits averaged where they overlap (MMSegmentation's
    # "slide" mode), a Mask R-CNN's detections merged (those cut by a window's inner
    # edge dropped, so SIZE - STRIDE should exceed the largest object). For images
    # larger than the model can take at once, at full resolution (INPUT.MIN_SIZE_TEST 0
    # keeps their size). SIZE 0: the whole image at once.
    cfg.TEST.SLIDING_WINDOW = CN()
    cfg.TEST.SLIDING_WINDOW.SIZE = 0
    cfg.TEST.SLIDING_WINDOW.STRIDE = 0  # 0: two thirds of SIZE
    # What runs the model in evaluation (--eval-only and during training): "pytorch",
    # "onnxruntime": the model exported to ONNX, run by ONNX Runtime on the CPU with the
    # same post-processing (seg_d2/engine/onnx_backend.py; without TEST.AUG or sliding windows),
    # or "onnxruntime-int8": the same with its convolutions quantised to 8-bit integers.
    cfg.TEST.BACKEND = "pytorch"
    cfg.TEST.INT8 = CN()
    # How many images of DATASETS.TRAIN[0] (evenly spaced) measure the ranges of the int8
    # backend's activations.
    cfg.TEST.INT8.CALIBRATION_IMAGES = 32
    # Modules (their paths in the model) the int8 backend leaves in float: those whose
    # outputs are the predictions.
    cfg.TEST.INT8.FLOAT_LAYERS = [
        "proposal_generator.rpn_head.objectness_logits",
        "proposal_generator.rpn_head.anchor_deltas",
        "roi_heads.box_predictor",
        "roi_heads.mask_head.predictor",
        "sem_seg_head.predictor",
    ]

    # Keys of earlier versions, rejected with the name that replaced them.
    for old, new in _RENAMED_KEYS.items():
        cfg.register_renamed_key(old, new)


def get_cfg():
    """detectron2's default config with seg_d2's keys added."""
    cfg = get_detectron2_cfg()
    add_seg_d2_config(cfg)
    return cfg
