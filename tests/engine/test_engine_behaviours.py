"""The engine's promises, each checked in a fraction of a second (the fast tier), not
only by the slow end-to-end runs: accumulated gradients equal the whole batch's, the
best checkpoint keeps the highest metric, and a checkpoint is named current only once
it is whole."""

import os
from contextlib import nullcontext
from types import SimpleNamespace

import seg_d2
from seg_d2.engine import Trainer, train_loop
from seg_d2.engine.checkpoint import CheckpointError, SafeCheckpointer

import pytest
import torch
from detectron2.engine import DefaultTrainer, hooks
from detectron2.utils.events import EventStorage
from helpers import metrics
from torch import nn


class _MeanSquare(nn.Module):
    """A model whose loss is a mean over its batch, as detectron2's losses are."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, batch):
        inputs, targets = batch
        return {"loss": ((self.linear(inputs).squeeze(1) - targets) ** 2).mean()}


def _batches(parts):
    torch.manual_seed(0)
    inputs, targets = torch.randn(8, 3), torch.randn(8)
    return [(i, t) for i, t in zip(inputs.chunk(parts), targets.chunk(parts))]


@pytest.mark.parametrize("parts", [2, 4])
def test_accumulated_parts_step_as_the_whole_batch_does(parts):
    def one_step(batches, accumulate_steps):
        torch.manual_seed(1)
        model = _MeanSquare()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        loop = train_loop.GradientAccumulationTrainer(
            model, iter(batches), optimizer, accumulate_steps
        )
        loop.iter = 0
        with EventStorage(0) as storage:
            loop.storage = storage
            loop.run_step()
            (loss, _), *_ = storage.history("total_loss").values()
        return model.linear.weight.detach().clone(), loss

    whole, whole_loss = one_step(_batches(1), 1)
    accumulated, mean_loss = one_step(_batches(parts), parts)
    torch.testing.assert_close(accumulated, whole, rtol=1e-5, atol=1e-6)
    assert mean_loss == pytest.approx(whole_loss, rel=1e-5)


def test_the_best_checkpoint_is_the_one_of_the_highest_metric(tmp_path, monkeypatch):
    """The hook Trainer.build_hooks adds, fed evaluations 0.3, 0.7, 0.5: best/ holds the
    model as it was at 0.7."""
    cfg = seg_d2.load_config(
        "configs/shapes/unet.yaml",
        ["OUTPUT_DIR", str(tmp_path), "TEST.EVAL_PERIOD", "1", "MODEL.DEVICE", "cpu"],
    )
    model = nn.Linear(1, 1)
    trainer = Trainer.__new__(Trainer)  # the hooks' owner, without a model to train
    trainer.cfg, trainer.checkpointer = cfg, SafeCheckpointer(model, str(tmp_path))
    trainer.max_iter = 10
    monkeypatch.setattr(DefaultTrainer, "build_hooks", lambda self: [])
    (best,) = Trainer.build_hooks(trainer)
    assert isinstance(best, hooks.BestCheckpointer)
    best.trainer = trainer
    with EventStorage(0) as storage:
        trainer.storage = storage
        for iteration, metric in enumerate([0.3, 0.7, 0.5]):
            model.weight.data.fill_(metric)
            storage.iter = trainer.iter = iteration
            storage.put_scalar(cfg.TEST.BEST_CHECKPOINT_METRIC, metric, smoothing_hint=False)
            best.after_step()
    kept = torch.load(tmp_path / "best" / "model_best.pth", weights_only=True)["model"]
    assert kept["weight"].item() == pytest.approx(0.7)


def test_a_checkpoint_is_named_current_only_after_it_is_renamed_into_place(tmp_path, monkeypatch):
    checkpointer = SafeCheckpointer(nn.Linear(2, 2), str(tmp_path))
    checkpointer.save("model_0000009")
    pointer = tmp_path / "last_checkpoint"
    seen = []

    def replace_and_look(source, target):
        seen.append(pointer.read_text())
        if str(target).endswith("model_0000019.pth"):
            raise OSError(28, "No space left on device")
        os.rename(source, target)

    monkeypatch.setattr(os, "replace", replace_and_look)
    with pytest.raises(CheckpointError):
        checkpointer.save("model_0000019")
    assert seen[-1] == "model_0000009.pth"  # not yet re-pointed when the rename came
    assert pointer.read_text() == "model_0000009.pth"


def test_early_stopping_counts_evaluations_without_gain(tmp_path):
    from seg_d2.engine.early_stopping import EarlyStopping, TrainingStoppedEarly

    trainer = SimpleNamespace(
        max_iter=100, checkpointer=SafeCheckpointer(nn.Linear(1, 1), str(tmp_path))
    )
    hook = EarlyStopping(eval_period=10, metric="segm/AP", patience=2)
    hook.trainer = trainer
    with EventStorage(0) as storage:
        trainer.storage = storage
        for evaluation, metric in enumerate([30.0, 35.0, 34.0, 36.0, 36.0]):
            storage.iter = trainer.iter = 10 * evaluation + 9
            storage.put_scalar("segm/AP", metric, smoothing_hint=False)
            hook.after_step()
            trainer.iter += 1  # an iteration without evaluation changes nothing
            hook.after_step()
        assert (hook.best, hook.evaluations_without_gain) == (36.0, 1)
        storage.put_scalar("segm/AP", 35.9, smoothing_hint=False)
        storage.iter = trainer.iter = 59
        with pytest.raises(TrainingStoppedEarly, match="after iteration 60"):
            hook.after_step()
    assert (tmp_path / "model_final.pth").exists()


@pytest.mark.slow
def test_a_run_stops_early_and_ends_as_a_finished_one(tiny_shapes, tmp_path):
    """A learning rate of 0 (and no batch statistics) leaves the metric where it is:
    PATIENCE 1 stops the run at its second evaluation, which ends with exit status 0,
    model_final and the best weights."""
    from helpers import train_net

    log = train_net(
        "configs/shapes/unet.yaml",
        tmp_path,
        tiny_shapes,
        *("SOLVER.BASE_LR", "0.0", "SOLVER.MAX_ITER", "40", "TEST.EVAL_PERIOD", "2"),
        *("SOLVER.PATIENCE", "1", "TEST.BEST_CHECKPOINT_METRIC", "sem_seg/mIoU"),
        *("MODEL.UNET.NORM", "", "MODEL.SEM_SEG_HEAD.NORM", ""),  # no running statistics
        datasets=("tiny_train_sem_seg", "tiny_val_sem_seg"),
        size=64,
    )
    assert "stopping early after iteration 4: sem_seg/mIoU has not risen" in log
    assert "Traceback" not in log
    iterations = [m["iteration"] for m in metrics(tmp_path) if "total_loss" in m]
    assert max(iterations) == 3
    for path in ("model_final.pth", "best/model_best.pth", "results.json"):
        assert (tmp_path / path).exists(), path


def _accumulating(model, batches, parts, loop_class=train_loop.GradientAccumulationTrainer):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    if loop_class is train_loop.CPUAutocastTrainer:
        return loop_class(model, iter(batches), optimizer, accumulate_steps=parts)
    return loop_class(model, iter(batches), optimizer, parts)


def _step(loop):
    loop.iter = 0
    with EventStorage(0) as storage:
        loop.storage = storage
        loop.run_step()
    return {name: history.latest() for name, history in storage.histories().items()}


def test_only_the_last_part_of_a_step_exchanges_gradients(monkeypatch):
    loop = _accumulating(_MeanSquare(), _batches(3), 3)
    exchanged = []
    monkeypatch.setattr(
        loop, "_gradients_synchronized", lambda last: exchanged.append(last) or nullcontext()
    )
    _step(loop)
    assert exchanged == [False, False, True]


def test_a_step_reports_the_time_spent_waiting_for_all_its_parts(monkeypatch):
    clock = iter(range(100))
    monkeypatch.setattr(train_loop.time, "perf_counter", lambda: 10.0 * next(clock))
    scalars = _step(_accumulating(_MeanSquare(), _batches(3), 3))
    assert scalars["data_time"] == pytest.approx(30.0)  # 10 s for each of the 3 parts


class _LossTensor(_MeanSquare):
    """A model that returns its loss as a tensor, not a dict."""

    def forward(self, batch):
        return super().forward(batch)["loss"]


def test_a_model_returning_a_tensor_trains_and_reports_it_as_the_total_loss():
    model = _LossTensor()
    before = model.linear.weight.detach().clone()
    scalars = _step(_accumulating(model, _batches(2), 2))
    assert set(scalars) >= {"total_loss", "data_time"} and scalars["total_loss"] > 0
    assert not torch.equal(model.linear.weight, before)


class _RecordsItsPrecision(_MeanSquare):
    def forward(self, batch):
        self.seen = self.linear(batch[0]).dtype
        return super().forward(batch)


def test_cpu_autocast_runs_the_forward_pass_in_bfloat16_and_keeps_float32_weights():
    model = _RecordsItsPrecision()
    before = model.linear.weight.detach().clone()
    loop = _accumulating(model, _batches(2), 2, train_loop.CPUAutocastTrainer)
    scalars = _step(loop)
    assert model.seen == torch.bfloat16 and model.linear.weight.dtype == torch.float32
    assert not torch.equal(model.linear.weight, before) and scalars["total_loss"] > 0
    model(_batches(1)[0])  # outside the step: float32 again
    assert model.seen == torch.float32


def _stopping_hook(tmp_path, patience):
    from seg_d2.engine.early_stopping import EarlyStopping

    trainer = SimpleNamespace(
        max_iter=100, checkpointer=SafeCheckpointer(nn.Linear(1, 1), str(tmp_path))
    )
    hook = EarlyStopping(eval_period=10, metric="segm/AP", patience=patience)
    hook.trainer = trainer
    return hook, trainer


def _evaluate(hook, trainer, storage, evaluation, metric):
    storage.iter = trainer.iter = 10 * evaluation + 9
    if metric is not None:
        storage.put_scalar("segm/AP", metric, smoothing_hint=False)
    hook.after_step()


def test_early_stopping_ignores_missing_and_nan_metrics_and_saves_the_iteration(tmp_path, caplog):
    from seg_d2.engine.early_stopping import TrainingStoppedEarly

    hook, trainer = _stopping_hook(tmp_path, patience=1)
    with EventStorage(0) as storage:
        trainer.storage = storage
        _evaluate(hook, trainer, storage, 0, None)  # no metric yet
        _evaluate(hook, trainer, storage, 1, 20.0)  # the first is a gain, never a stop
        _evaluate(hook, trainer, storage, 2, float("nan"))
        assert (hook.best, hook.evaluations_without_gain) == (20.0, 0)
        with caplog.at_level("WARNING"), pytest.raises(TrainingStoppedEarly):
            _evaluate(hook, trainer, storage, 3, 19.0)
    assert (
        "stopping early after iteration 40: segm/AP has not risen above 20.0000 in 1 "
        "evaluations (SOLVER.PATIENCE)"
    ) in caplog.text
    saved = torch.load(tmp_path / "model_final.pth", weights_only=True)
    assert saved["iteration"] == 39


def test_every_process_stops_when_the_first_one_decides(tmp_path, monkeypatch):
    from seg_d2.engine import early_stopping

    hook, trainer = _stopping_hook(tmp_path, patience=1)
    monkeypatch.setattr(early_stopping.comm, "get_world_size", lambda: 2)
    monkeypatch.setattr(early_stopping.comm, "is_main_process", lambda: False)
    decisions = []
    monkeypatch.setattr(
        early_stopping.comm, "all_gather", lambda mine: decisions.append(mine) or [True, mine]
    )
    with EventStorage(0) as storage:
        trainer.storage = storage
        with pytest.raises(early_stopping.TrainingStoppedEarly):
            _evaluate(hook, trainer, storage, 0, 20.0)
    assert decisions == [False]  # this process never looked at the metric
    assert hook.best is None
