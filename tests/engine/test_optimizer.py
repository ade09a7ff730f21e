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


def test_adamw_takes_the_rate_and_decay_of_biases_and_norms_from_the_config():
    cfg = _cfg("ADAMW")
    cfg.SOLVER.WEIGHT_DECAY, cfg.SOLVER.BIAS_LR_FACTOR, cfg.SOLVER.WEIGHT_DECAY_BIAS = (
        0.05,
        2.0,
        0.0,
    )
    model = _model()
    optimizer = Trainer.build_optimizer(cfg, model)
    names = {id(p): name for name, p in model.named_parameters()}
    group_of = {names[id(p)]: g for g in optimizer.param_groups for p in g["params"]}
    assert (group_of["0.weight"]["lr"], group_of["0.weight"]["weight_decay"]) == (0.003, 0.05)
    assert (group_of["0.bias"]["lr"], group_of["0.bias"]["weight_decay"]) == (0.006, 0.0)
    assert group_of["1.weight"]["weight_decay"] == 0.0  # a norm layer's
