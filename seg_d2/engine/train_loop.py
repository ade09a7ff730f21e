"""The step of training: detectron2's SimpleTrainer, with gradients accumulated over
several batches and with CPU autocast, as its AMPTrainer is with CUDA autocast; and
detectron2's DistributedDataParallel wrapping, for models on the CPU too."""

import contextlib
import logging
import time

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer, create_ddp_model
from detectron2.layers import NaiveSyncBatchNorm
from detectron2.utils import comm
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import ConfigError

__all__ = [
    "CPUAutocastTrainer",
    "GradientAccumulationTrainer",
    "build_train_loop",
    "data_parallel",
    "prepare_model",
    "sync_batch_norm_on_cpu",
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


def sync_batch_norm_on_cpu(model):
    """``model`` with each ``nn.SyncBatchNorm`` (detectron2's "SyncBN") replaced by
    detectron2's NaiveSyncBatchNorm ("naiveSyncBN"), the same statistics over all processes
    computed with all-reduce, which gloo runs: torch's SyncBatchNorm needs GPUs. The
    state-dict keys stay the same, so the weights load either way."""
    for name, child in model.named_children():
        if isinstance(child, nn.SyncBatchNorm):
            naive = NaiveSyncBatchNorm(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            naive.load_state_dict(child.state_dict())
            setattr(model, name, naive)
        else:
            sync_batch_norm_on_cpu(child)
    return model


def prepare_model(model, *, device, channels_last):
    """A built model made ready for this run, whatever the config kind: SyncBN that gloo
    can run when several processes train on a CPU, and channels-last memory format when
    asked (``MODEL.CHANNELS_LAST``, ``train.channels_last``)."""
    if device == "cpu" and comm.get_world_size() > 1:
        sync_batch_norm_on_cpu(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def data_parallel(model, **kwargs):
    """detectron2's ``create_ddp_model``, which gives DistributedDataParallel the process's
    GPU (``device_ids``) even for a model on the CPU, where DDP refuses it: there, no
    device ids (gloo processes share the CPU)."""
    if comm.get_world_size() > 1 and next(model.parameters()).device.type == "cpu":
        kwargs["device_ids"] = None
    return create_ddp_model(model, **kwargs)
