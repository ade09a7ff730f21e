"""An exponential moving average of the model's weights (MODEL_EMA, as d2go's key).

Averaging the last steps' weights does much of what decaying the learning rate does,
without waiting for the schedule's end: evaluated mid-schedule, the average stands in for
the model a shorter run would end with. The average is torch's ``AveragedModel`` (its
buffers too: BatchNorm's statistics belong to the weights they were gathered with),
with TensorFlow's ``ExponentialMovingAverage`` ramp: decay ``min(DECAY, (1 + n) /
(10 + n))`` after ``n`` updates, so that the first steps' weights fade quickly.

Checkpoints hold it as ``model_ema`` beside detectron2's ``model``: ``--resume`` goes on
with both, and loading weights for anything else (evaluation, prediction, a start for
another training) takes the average (``SafeCheckpointer``).
"""

import contextlib

import torch
from detectron2.engine import HookBase
from torch.optim.swa_utils import AveragedModel

__all__ = ["CHECKPOINT_KEY", "ModelEMA", "averaged_weights"]

CHECKPOINT_KEY = "model_ema"
_MODULE_PREFIX = "module."


def _ramped_average(decay):
    def average(averaged, current, updates):
        rate = min(decay, (1.0 + float(updates)) / (10.0 + float(updates)))
        return averaged + (current - averaged) * (1.0 - rate)

    return average


class ModelEMA(HookBase):
    """Updates the average after every optimizer step; ``weights_in(model)`` lends its
    weights to ``model`` for an evaluation."""

    def __init__(self, model, decay):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"MODEL_EMA.DECAY must be between 0 and 1, not {decay}")
        self._model = model
        self.averaged = AveragedModel(model, avg_fn=_ramped_average(decay), use_buffers=True)
        self.averaged.requires_grad_(False)

    @classmethod
    def from_config(cls, cfg, model):
        """The hook ``MODEL_EMA.ENABLED`` asks for, or None."""
        return cls(model, cfg.MODEL_EMA.DECAY) if cfg.MODEL_EMA.ENABLED else None

    @torch.no_grad()
    def after_step(self):
        self.averaged.update_parameters(self._model)

    @contextlib.contextmanager
    def weights_in(self, model):
        """``model`` with the average's weights and buffers, its own back afterwards."""
        own = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        self.copy_to(model)
        try:
            yield model
        finally:
            model.load_state_dict(own)

    def copy_to(self, model):
        """Give ``model`` the average's weights and buffers (none before the first update)."""
        if self.averaged.n_averaged:
            model.load_state_dict(self.averaged.module.state_dict())


def averaged_weights(ema_state):
    """The model's state dict held in a checkpoint's ``model_ema`` entry."""
    return {
        name[len(_MODULE_PREFIX) :]: tensor
        for name, tensor in ema_state.items()
        if name.startswith(_MODULE_PREFIX)
    }
