"""The model as ``cfg.TEST`` asks evaluation and prediction to run it."""

from detectron2.modeling import GeneralizedRCNN, PanopticFPN, SemanticSegmentor
from torch.nn.parallel import DistributedDataParallel

from .sliding_window import SlidingWindowSemanticSegmentor
from .test_time_augmentation import with_test_time_augmentation
from .tiled_instances import TiledGeneralizedRCNN

__all__ = ["with_test_options"]


def with_test_options(cfg, model, test_time_augmentation=None):
    """``model`` run in ``TEST.SLIDING_WINDOW`` windows when SIZE is set (a semantic
    model's logits averaged, a Mask R-CNN's detections merged), and under ``TEST.AUG``
    when enabled (``test_time_augmentation`` True/False overrides that): each augmented
    image is then slid over as a whole image would be."""
    if cfg.TEST.SLIDING_WINDOW.SIZE > 0:
        model = _windowed(
            cfg, model.module if isinstance(model, DistributedDataParallel) else model
        )
    augment = cfg.TEST.AUG.ENABLED if test_time_augmentation is None else test_time_augmentation
    return with_test_time_augmentation(cfg, model) if augment else model


def _windowed(cfg, model):
    window = cfg.TEST.SLIDING_WINDOW
    if isinstance(model, SemanticSegmentor):
        return SlidingWindowSemanticSegmentor(model, window.SIZE, window.STRIDE)
    if isinstance(model, GeneralizedRCNN) and not isinstance(model, PanopticFPN):
        return TiledGeneralizedRCNN(
            model,
            window.SIZE,
            window.STRIDE,
            cfg.MODEL.ROI_HEADS.NMS_THRESH_TEST,
            cfg.TEST.DETECTIONS_PER_IMAGE,
        )
    raise NotImplementedError(
        f"TEST.SLIDING_WINDOW.SIZE: windows are for SemanticSegmentor and GeneralizedRCNN "
        f"models, not {type(model).__name__}; set it to 0"
    )
