from seg_d2 import get_cfg
from seg_d2.engine import Trainer

import pytest
import torch
from torch import nn


def _model():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))


def _cfg(optimizer):
    cfg = get_cfg()
    cfg.SOLVER.OPTIMIZER = optimizer
    cfg.SOLVER.BASE_LR, cfg.SOLVER.WEIGHT_DECAY, cfg.SOLVER.WEIGHT_DECAY_NORM = 0.003, 0.01, 0.0
    return cfg


def test_adamw_uses_detectrons_parameter_groups():
    optimizer = Trainer.build_optimizer(_cfg("ADAMW"), _model())
    assert isinstance(optimizer, torch.optim.AdamW)
    assert all(group["lr"] == 0.003 for group in optimizer.param_groups)
    decays = sorted(group["weight_decay"] for group in optimizer.param_groups)
    assert decays[0] == 0.0 and decays[-1] == 0.01  # norms exempt, convolutions decayed


def test_sgd_stays_detectrons():
    optimizer = Trainer.build_optimizer(_cfg("SGD"), _model())
    assert type(optimizer).__name__ == "SGD" or isinstance(optimizer, torch.optim.SGD)


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="SOLVER.OPTIMIZER .* not 'Adam'"):
        Trainer.build_optimizer(_cfg("Adam"), _model())
