"""seg_d2.engine.model_preparation: a built model made ready for a run."""

import seg_d2  # noqa: F401
from seg_d2.engine.model_preparation import data_parallel, prepare_model, sync_batch_norm_on_cpu

import torch


def test_sync_batch_norm_becomes_detectron2s_naive_one_with_its_settings_and_state():
    from detectron2.layers import NaiveSyncBatchNorm

    inner = torch.nn.SyncBatchNorm(3, eps=1e-3, momentum=0.3, affine=False)
    inner.running_mean.fill_(2.0)
    model = torch.nn.Sequential(
        torch.nn.SyncBatchNorm(4, track_running_stats=False),
        torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), inner),
    )
    converted = sync_batch_norm_on_cpu(model)
    assert converted is model
    outer, nested = model[0], model[1][1]
    assert type(outer) is NaiveSyncBatchNorm and type(nested) is NaiveSyncBatchNorm
    assert (outer.num_features, outer.affine, outer.track_running_stats) == (4, True, False)
    assert (nested.num_features, nested.eps, nested.momentum) == (3, 1e-3, 0.3)
    assert not nested.affine and nested.track_running_stats
    assert torch.all(nested.running_mean == 2.0)
    assert type(model[1][0]) is torch.nn.Conv2d


def _with_sync_batch_norm():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.SyncBatchNorm(4))


def test_sync_batch_norm_is_replaced_on_a_cpu_with_several_processes_only(monkeypatch):
    from seg_d2.engine import model_preparation

    from detectron2.layers import NaiveSyncBatchNorm

    model = prepare_model(_with_sync_batch_norm(), device="cpu", channels_last=False)
    assert type(model[1]) is torch.nn.SyncBatchNorm  # one process: nothing to synchronise
    monkeypatch.setattr(model_preparation.comm, "get_world_size", lambda: 2)
    model = prepare_model(_with_sync_batch_norm(), device="cuda", channels_last=False)
    assert type(model[1]) is torch.nn.SyncBatchNorm  # GPUs run torch's own
    model = prepare_model(_with_sync_batch_norm(), device="cpu", channels_last=False)
    assert type(model[1]) is NaiveSyncBatchNorm


def test_channels_last_when_asked():
    model = prepare_model(_with_sync_batch_norm(), device="cpu", channels_last=True)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    model = prepare_model(_with_sync_batch_norm(), device="cpu", channels_last=False)
    assert not model[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_a_model_on_the_cpu_is_wrapped_without_device_ids(monkeypatch):
    from seg_d2.engine import model_preparation

    wrapped = []
    monkeypatch.setattr(
        model_preparation, "create_ddp_model", lambda model, **kw: wrapped.append(kw) or model
    )
    model = _with_sync_batch_norm()
    assert data_parallel(model, broadcast_buffers=False) is model
    monkeypatch.setattr(model_preparation.comm, "get_world_size", lambda: 2)
    data_parallel(model, broadcast_buffers=False)
    assert wrapped == [
        {"broadcast_buffers": False},
        {"broadcast_buffers": False, "device_ids": None},
    ]
