"""The learning-rate multiplier as detectron2's ``build_lr_scheduler`` makes it, with every
value taken from a YAML config's ``SOLVER.*``: a warm-up, then steps or a cosine."""

from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import CosineParamScheduler, MultiStepParamScheduler


def lr_multiplier(cfg):
    """``SOLVER.LR_SCHEDULER_NAME`` WarmupMultiStepLR (``GAMMA`` at each of ``STEPS``) or
    WarmupCosineLR (to 0 along a half cosine), after ``WARMUP_ITERS``."""
    solver = cfg.SOLVER
    if solver.LR_SCHEDULER_NAME == "WarmupCosineLR":
        schedule = L(CosineParamScheduler)(start_value=1.0, end_value=0.0)
    else:
        steps = [step for step in solver.STEPS if step <= solver.MAX_ITER]
        schedule = L(MultiStepParamScheduler)(
            values=[solver.GAMMA**k for k in range(len(steps) + 1)],
            milestones=steps,
            num_updates=solver.MAX_ITER,
        )
    return L(WarmupParamScheduler)(
        scheduler=schedule,
        warmup_factor=solver.WARMUP_FACTOR,
        warmup_length=min(solver.WARMUP_ITERS / solver.MAX_ITER, 1.0),
        warmup_method=solver.WARMUP_METHOD,
    )
