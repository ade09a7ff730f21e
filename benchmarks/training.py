"""Training a system for a comparison exactly as train_net.py would, timed step by step."""

import time

import seg_d2  # noqa: F401  (first: fixes detectron2 0.6 before anything imports it)
from seg_d2.engine import Trainer
from seg_d2.engine.model_ema import ModelEMA
from seg_d2.engine.model_preparation import prepare_model
from seg_d2.engine.train_loop import build_train_loop

import numpy as np
import torch
from detectron2.engine import HookBase, hooks
from detectron2.solver import build_lr_scheduler
from detectron2.utils.env import seed_all_rng

from .peak_memory import PeakMemory

__all__ = ["train_like_detectron2"]


class _PeriodicEvaluation(HookBase):
    """``evaluate(model)`` (a dict of numbers) every ``period`` iterations and after the
    last, each with the training seconds so far (the steps' own time, ``step_times``: the
    evaluations left out) and the evaluation's own seconds."""

    def __init__(self, model, period, evaluate, step_times):
        self._model, self._period, self._evaluate = model, period, evaluate
        self._step_times = step_times
        self.points = []

    def after_step(self):
        done = self.trainer.iter + 1
        if done % self._period and done != self.trainer.max_iter:
            return
        start = time.perf_counter()
        self._model.eval()
        metrics = self._evaluate(self._model)
        self._model.train()
        self.points.append(
            {
                "iteration": done,
                "training_seconds": float(sum(self._step_times.seconds)),
                "evaluation_seconds": time.perf_counter() - start,
                **metrics,
            }
        )


def _of_average(average, evaluate):
    def evaluate_average(model):
        with average.weights_in(model):
            return evaluate(model)

    return evaluate_average


class _StepTimes(HookBase):
    def __init__(self, device):
        self._cuda = torch.device(device).type == "cuda"
        self.seconds = []

    def _now(self):
        if self._cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def before_step(self):
        self._start = self._now()

    def after_step(self):
        self.seconds.append(self._now() - self._start)


def train_like_detectron2(system, build, cfg, seed, warmup_steps=5, evaluation=None):
    """Build ``system`` with ``build(cfg)`` (any module that takes detectron2's batched
    inputs and returns a loss dict) after seeding every RNG with ``seed``, and train it
    as train_net.py would: its data loader (the config's INPUT.EXTRA_AUGMENTATIONS
    included), detectron2's LR schedule, the config's optimizer, memory format
    (MODEL.CHANNELS_LAST), step (SOLVER.AMP.ENABLED: bfloat16 autocast on a CPU) and
    weights' average (MODEL_EMA: updated within the step's time, evaluated and returned in
    the model's place), so that every system gets the same options. Returns the model
    (in eval mode) and a result with its size, iterations/s (from the median step, data
    wait included, after ``warmup_steps``) and the peak memory growth; given ``evaluation`` (period,
    function of the model returning a dict of numbers), also the "curve" of its
    evaluations against training time (``_PeriodicEvaluation``)."""
    cfg = cfg.clone()
    cfg.SEED = seed
    seed_all_rng(seed)
    model = prepare_model(
        build(cfg), device=cfg.MODEL.DEVICE, channels_last=cfg.MODEL.CHANNELS_LAST
    )
    model.train()
    optimizer = Trainer.build_optimizer(cfg, model)
    trainer = build_train_loop(
        model,
        Trainer.build_train_loader(cfg),
        optimizer,
        device=cfg.MODEL.DEVICE,
        amp=cfg.SOLVER.AMP.ENABLED,
        accumulate_steps=cfg.SOLVER.ACCUMULATE_GRAD_STEPS,
    )
    step_times = _StepTimes(cfg.MODEL.DEVICE)
    # updated within the step's time, evaluated in the model's place as train_net does
    average = ModelEMA.from_config(cfg, model)
    evaluations = []
    if evaluation is not None:
        period, evaluate = evaluation
        if average is not None:
            evaluate = _of_average(average, evaluate)
        # the step's time is taken before an evaluation after it starts
        evaluations.append(_PeriodicEvaluation(model, period, evaluate, step_times))
    trainer.register_hooks(
        [hooks.LRScheduler(optimizer, build_lr_scheduler(cfg, optimizer))]
        + ([average] if average is not None else [])
        + [step_times]
        + evaluations
    )
    with PeakMemory(cfg.MODEL.DEVICE) as memory:
        trainer.train(0, cfg.SOLVER.MAX_ITER)
    if average is not None:
        average.copy_to(model)  # the weights train_net's final checkpoint gives inference
    steps = step_times.seconds[warmup_steps:] or step_times.seconds
    model.eval()
    result = {
        "system": system,
        "seed": seed,
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "train_iters_per_s": 1.0 / float(np.median(steps)),
        "peak_train_memory_MiB": memory.mebibytes,
    }
    if evaluations:
        result["curve"] = evaluations[0].points
    return model, result
