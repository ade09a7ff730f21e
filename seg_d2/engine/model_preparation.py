"""A built model made ready for a run, whatever the config kind: SyncBN that gloo can run
on a CPU, channels-last memory, and detectron2's DistributedDataParallel wrapping for
models on the CPU too."""

import torch
from detectron2.engine import create_ddp_model
from detectron2.layers import NaiveSyncBatchNorm
from detectron2.utils import comm
from torch import nn

__all__ = ["data_parallel", "prepare_model", "sync_batch_norm_on_cpu"]


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
