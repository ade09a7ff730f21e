"""The model as ``cfg.TEST`` asks evaluation and prediction to run it."""

from detectron2.modeling import SemanticSegmentor
from torch.nn.parallel import DistributedDataParallel

from .sliding_window import SlidingWindowSemanticSegmentor
from .test_time_augmentation import with_test_time_augmentation

__all__ = ["inference_model"]


def inference_model(cfg, model, test_time_augmentation=None):
    """``model`` run in ``TEST.SLIDING_WINDOW`` windows when SIZE is set, and under
    ``TEST.AUG`` when enabled (``test_time_augmentation`` True/False overrides that):
    each augmented image is then slid over as a whole image would be."""
    window = cfg.TEST.SLIDING_WINDOW
    if window.SIZE > 0:
        inner = model.module if isinstance(model, DistributedDataParallel) else model
        if not isinstance(inner, SemanticSegmentor):
            raise NotImplementedError(
                f"TEST.SLIDING_WINDOW.SIZE: sliding-window inference is for "
                f"SemanticSegmentor models, not {type(inner).__name__}; set it to 0"
            )
        model = SlidingWindowSemanticSegmentor(inner, window.SIZE, window.STRIDE)
    augment = cfg.TEST.AUG.ENABLED if test_time_augmentation is None else test_time_augmentation
    return with_test_time_augmentation(cfg, model) if augment else model
