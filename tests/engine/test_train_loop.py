"""Which training step SOLVER.AMP.ENABLED gives on a CPU."""

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
