"""The optimizers of ``SOLVER.OPTIMIZER`` on detectron2's parameter groups (no weight
decay on norms, ``SOLVER.WEIGHT_DECAY_NORM`` 0), for the Python configs."""

import torch
from detectron2.config import LazyCall as L
from detectron2.solver.build import get_default_optimizer_params


def sgd(lr, weight_decay=1e-4, momentum=0.9):
    """detectron2's SGD (``SOLVER.BASE_LR``, ``MOMENTUM``, ``WEIGHT_DECAY``)."""
    return L(torch.optim.SGD)(
        params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
    )


def adamw(lr, weight_decay=1e-4):
    """``SOLVER.OPTIMIZER "ADAMW"``."""
    return L(torch.optim.AdamW)(
        params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
        lr=lr,
        weight_decay=weight_decay,
    )
