"""Learning-rate multipliers as detectron2's ``build_lr_scheduler`` makes them from
``SOLVER.*`` (linear warm-up, then steps or a cosine), for the Python configs."""

from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import CosineParamScheduler, MultiStepParamScheduler


def multi_step(max_iter, steps, warmup_iters, gamma=0.1):
    """WarmupMultiStepLR: the rate times ``gamma`` at each of ``steps``."""
    return L(WarmupParamScheduler)(
        scheduler=L(MultiStepParamScheduler)(
            values=[gamma**k for k in range(len(steps) + 1)],
            milestones=list(steps),
            num_updates=max_iter,
        ),
        warmup_factor=0.001,
        warmup_length=warmup_iters / max_iter,
        warmup_method="linear",
    )


def cosine(max_iter, warmup_iters):
    """WarmupCosineLR: from the rate to 0 along a half cosine."""
    return L(WarmupParamScheduler)(
        scheduler=L(CosineParamScheduler)(start_value=1.0, end_value=0.0),
        warmup_factor=0.001,
        warmup_length=warmup_iters / max_iter,
        warmup_method="linear",
    )
