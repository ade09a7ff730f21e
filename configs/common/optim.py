"""The optimizer of ``SOLVER.OPTIMIZER`` on detectron2's parameter groups, with every
value taken from a YAML config's ``SOLVER.*`` as seg_d2's Trainer takes it."""

import torch
from detectron2.config import LazyCall as L
from detectron2.solver.build import get_default_optimizer_params

OPTIMIZERS = {"SGD": torch.optim.SGD, "ADAMW": torch.optim.AdamW}


def optimizer(cfg):
    """SGD (``BASE_LR``, ``MOMENTUM``, ``NESTEROV``, ``WEIGHT_DECAY``) or AdamW (``BASE_LR``,
    ``WEIGHT_DECAY``); the groups follow the optimizer's ``lr`` and ``weight_decay``, so
    that changing those in a Python config changes every group."""
    solver = cfg.SOLVER
    params = L(get_default_optimizer_params)(
        base_lr="${..lr}",
        weight_decay="${..weight_decay}",
        weight_decay_norm=solver.WEIGHT_DECAY_NORM,
        bias_lr_factor=solver.BIAS_LR_FACTOR,
        weight_decay_bias=solver.WEIGHT_DECAY_BIAS,
    )
    settings = dict(params=params, lr=solver.BASE_LR, weight_decay=solver.WEIGHT_DECAY)
    if solver.OPTIMIZER == "SGD":
        settings.update(momentum=solver.MOMENTUM, nesterov=solver.NESTEROV)
    return L(OPTIMIZERS[solver.OPTIMIZER])(**settings)
