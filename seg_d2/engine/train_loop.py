"""The step of training: detectron2's SimpleTrainer, with gradients accumulated over
several batches and with CPU autocast, as its AMPTrainer is with CUDA autocast."""

import contextlib
import logging
import time

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer
from torch.nn.parallel import DistributedDataParallel

from ..errors import ConfigError

__all__ = [
    "CPUAutocastTrainer",
    "GradientAccumulationTrainer",
    "build_train_loop",
    "cpu_computes_bfloat16",
]


class GradientAccumulationTrainer(SimpleTrainer):
    """One optimizer step per ``accumulate_steps`` batches, the gradient of their mean
    loss: a batch too large for one device (a published multi-GPU batch) taken in parts.
    Equal to the larger batch for losses that are means over equal-sized parts and
    models without batch statistics (BatchNorm sees each part alone)."""

    def __init__(self, model, data_loader, optimizer, accumulate_steps=1):
        super().__init__(model, data_loader, optimizer)
        if accumulate_steps < 1:
            raise ConfigError(
                f"SOLVER.ACCUMULATE_GRAD_STEPS must be at least 1, not {accumulate_steps}"
            )
        self.accumulate_steps = accumulate_steps

    def run_step(self):
        if self.accumulate_steps == 1:
            super().run_step()
            return
        assert self.model.training, "[GradientAccumulationTrainer] model was changed to eval mode!"
        self.optimizer.zero_grad()
        mean_losses, data_time = {}, 0.0
        for part in range(self.accumulate_steps):
            start = time.perf_counter()
            data = next(self._data_loader_iter)
            data_time += time.perf_counter() - start
            with self._gradients_synchronized(part == self.accumulate_steps - 1):
                loss_dict = self.model(data)
                if isinstance(loss_dict, torch.Tensor):
                    loss_dict = {"total_loss": loss_dict}
                (sum(loss_dict.values()) / self.accumulate_steps).backward()
            for name, loss in loss_dict.items():
                mean_losses[name] = (
                    mean_losses.get(name, 0.0) + loss.detach() / self.accumulate_steps
                )
        self._write_metrics(mean_losses, data_time)
        self.optimizer.step()

    def _gradients_synchronized(self, last_part):
        """Processes exchange gradients once per step, after the last part."""
        if last_part or not isinstance(self.model, DistributedDataParallel):
            return contextlib.nullcontext()
        return self.model.no_sync()


class CPUAutocastTrainer(GradientAccumulationTrainer):
    """Training forward passes (model and losses) under CPU autocast in bfloat16, the
    precision CPUs compute fast; weights, gradients and the optimizer stay float32, and
    evaluation, which does not go through ``run_step``, runs in float32. Unlike float16
    on a GPU, bfloat16 has float32's range, so no gradient scaler is needed."""

    def __init__(self, model, data_loader, optimizer, precision=torch.bfloat16, accumulate_steps=1):
        super().__init__(model, data_loader, optimizer, accumulate_steps)
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


def build_train_loop(model, data_loader, optimizer, *, device, amp=False, accumulate_steps=1):
    """The step ``SOLVER.AMP.ENABLED`` and ``SOLVER.ACCUMULATE_GRAD_STEPS`` ask for: detectron2
    picks AMPTrainer for AMP, which needs CUDA; on a CPU the same key means bfloat16
    autocast."""
    if amp and device != "cpu":
        if accumulate_steps != 1:
            raise ConfigError(
                "SOLVER.ACCUMULATE_GRAD_STEPS: gradients are accumulated on a CPU, or on a GPU "
                "without SOLVER.AMP.ENABLED (detectron2's AMPTrainer steps once per batch)"
            )
        return AMPTrainer(model, data_loader, optimizer)
    if amp and cpu_computes_bfloat16():
        return CPUAutocastTrainer(model, data_loader, optimizer, accumulate_steps=accumulate_steps)
    if amp:
        logging.getLogger(__name__).warning(
            "SOLVER.AMP.ENABLED: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX), on "
            "which autocast would make training slower, not faster: training in float32"
        )
    if accumulate_steps != 1:
        return GradientAccumulationTrainer(model, data_loader, optimizer, accumulate_steps)
    return SimpleTrainer(model, data_loader, optimizer)


def cpu_computes_bfloat16():
    """Whether oneDNN has bfloat16 kernels for this CPU: without them torch emulates
    bfloat16 and an autocast step is slower than a float32 one."""
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()
