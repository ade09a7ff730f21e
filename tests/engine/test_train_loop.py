"""Which training step SOLVER.AMP.ENABLED gives on a CPU."""

import contextlib
import logging

from seg_d2.engine import CPUAutocastTrainer, train_loop

import pytest
import torch
from detectron2.engine import SimpleTrainer


@pytest.fixture
def step_parts():
    model = torch.nn.Linear(2, 1)
    return model, [], torch.optim.SGD(model.parameters(), lr=0.1)


def test_amp_on_a_cpu_with_bfloat16_instructions_autocasts(step_parts, monkeypatch):
    monkeypatch.setattr(train_loop, "cpu_computes_bfloat16", lambda: True)
    loop = train_loop.build_train_loop(*step_parts, device="cpu", amp=True, accumulate_steps=2)
    assert isinstance(loop, CPUAutocastTrainer)
    assert loop.precision == torch.bfloat16 and loop.accumulate_steps == 2


def test_amp_on_a_cpu_without_bfloat16_instructions_trains_in_float32_and_says_so(
    step_parts, monkeypatch, caplog
):
    monkeypatch.setattr(train_loop, "cpu_computes_bfloat16", lambda: False)
    with caplog.at_level(logging.WARNING, logger=train_loop.__name__):
        loop = train_loop.build_train_loop(*step_parts, device="cpu", amp=True)
    assert type(loop) is SimpleTrainer
    assert "no bfloat16 instructions" in caplog.text and "training in float32" in caplog.text
    with caplog.at_level(logging.WARNING, logger=train_loop.__name__):
        caplog.clear()
        train_loop.build_train_loop(*step_parts, device="cpu", amp=False)
    assert caplog.text == ""


def test_amp_without_bfloat16_instructions_still_accumulates_gradients(step_parts, monkeypatch):
    monkeypatch.setattr(train_loop, "cpu_computes_bfloat16", lambda: False)
    loop = train_loop.build_train_loop(*step_parts, device="cpu", amp=True, accumulate_steps=3)
    assert type(loop) is train_loop.GradientAccumulationTrainer and loop.accumulate_steps == 3


def test_bfloat16_support_is_onednns_answer():
    assert train_loop.cpu_computes_bfloat16() is torch.ops.mkldnn._is_mkldnn_bf16_supported()


def test_processes_exchange_gradients_after_the_last_part_of_a_step_only(single_process_group):
    from torch.nn.parallel import DistributedDataParallel

    def accumulating(model):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        return train_loop.GradientAccumulationTrainer(model, [], optimizer, accumulate_steps=2)

    loop = accumulating(DistributedDataParallel(torch.nn.Linear(2, 1)))
    assert not isinstance(loop._gradients_synchronized(False), contextlib.nullcontext)
    assert isinstance(loop._gradients_synchronized(True), contextlib.nullcontext)
    alone = accumulating(torch.nn.Linear(2, 1))
    assert isinstance(alone._gradients_synchronized(False), contextlib.nullcontext)


def test_amp_on_a_gpu_is_detectron2s_amp_trainer_which_steps_once_per_batch(step_parts):
    import re

    from seg_d2.errors import ConfigError

    from detectron2.engine import AMPTrainer

    model, data_loader, optimizer = step_parts
    loop = train_loop.build_train_loop(model, data_loader, optimizer, device="cuda", amp=True)
    assert type(loop) is AMPTrainer
    assert loop.model is model and loop.data_loader is data_loader and loop.optimizer is optimizer
    message = (
        "SOLVER.ACCUMULATE_GRAD_STEPS: gradients are accumulated on a CPU, or on a GPU without "
        "SOLVER.AMP.ENABLED (detectron2's AMPTrainer steps once per batch)"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        train_loop.build_train_loop(*step_parts, device="cuda", amp=True, accumulate_steps=2)
