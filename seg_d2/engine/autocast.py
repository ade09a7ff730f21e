"""detectron2's SimpleTrainer with CPU autocast, as its AMPTrainer is with CUDA autocast."""

import contextlib

import torch
from detectron2.engine import SimpleTrainer

__all__ = ["CPUAutocastTrainer"]


class CPUAutocastTrainer(SimpleTrainer):
    """Training forward passes (model and losses) under CPU autocast in bfloat16, the
    precision CPUs compute fast; weights, gradients and the optimizer stay float32, and
    evaluation, which does not go through ``run_step``, runs in float32. Unlike float16
    on a GPU, bfloat16 has float32's range, so no gradient scaler is needed."""

    def __init__(self, model, data_loader, optimizer, precision=torch.bfloat16):
        super().__init__(model, data_loader, optimizer)
        self.precision = precision

    def run_step(self):
        with _forward_under_autocast(self.model, "cpu", self.precision):
            super().run_step()


@contextlib.contextmanager
def _forward_under_autocast(model, device_type, dtype):
    """While in the block, each call of ``model`` runs under autocast, and only the call:
    the backward pass and the optimizer step stay outside, as torch recommends. Hooks
    rather than a wrapper, so that SimpleTrainer's own step is used as it is."""
    autocast = torch.autocast(device_type, dtype=dtype)

    def enter(module, args):  # returns None: a pre-hook's result would replace the inputs
        autocast.__enter__()

    def leave(module, args, output):  # returns None: the outputs stay the model's
        autocast.__exit__(None, None, None)

    handles = [
        model.register_forward_pre_hook(enter),
        model.register_forward_hook(leave, always_call=True),
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
