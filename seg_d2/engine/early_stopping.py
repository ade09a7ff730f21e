"""What follows each evaluation: the best checkpoint (``TEST.BEST_CHECKPOINT_METRIC``) and
early stopping on that metric (``SOLVER.PATIENCE``)."""

import logging
import math
import os

from detectron2.engine import HookBase, hooks
from detectron2.utils import comm

from .checkpoint import SafeCheckpointer

__all__ = ["EarlyStopping", "TrainingStoppedEarly", "after_evaluation_hooks"]


class TrainingStoppedEarly(Exception):
    """Raised by ``EarlyStopping`` to end detectron2's training loop, whose iterations are
    a fixed range; ``Trainer.train`` ends the run normally on it."""


class EarlyStopping(HookBase):
    """After each evaluation (placed after the hooks that evaluate and keep the best
    checkpoint), count the evaluations since ``metric`` last rose; at ``patience`` of them,
    save ``model_final`` and stop. The first process, which holds the metric, decides for
    every process, so that all leave the loop at the same iteration."""

    def __init__(self, eval_period, metric, patience):
        self._period, self._metric, self._patience = eval_period, metric, patience
        self.best, self.evaluations_without_gain = None, 0

    def _no_gain_for_long(self):
        latest = self.trainer.storage.latest().get(self._metric)
        if latest is None or math.isnan(latest[0]):
            return False
        if self.best is None or latest[0] > self.best:
            self.best, self.evaluations_without_gain = latest[0], 0
            return False
        self.evaluations_without_gain += 1
        return self.evaluations_without_gain >= self._patience

    def after_step(self):
        next_iter = self.trainer.iter + 1
        if next_iter % self._period or next_iter == self.trainer.max_iter:
            return  # no evaluation this iteration (EvalHook's schedule)
        stop = comm.is_main_process() and self._no_gain_for_long()
        if comm.get_world_size() > 1:
            stop = any(comm.all_gather(stop))
        if not stop:
            return
        if comm.is_main_process():
            logging.getLogger(__name__).warning(
                "stopping early after iteration %d: %s has not risen above %.4f in %d "
                "evaluations (SOLVER.PATIENCE)",
                next_iter,
                self._metric,
                self.best,
                self.evaluations_without_gain,
            )
        self.trainer.checkpointer.save("model_final", iteration=self.trainer.iter)
        raise TrainingStoppedEarly(f"stopped early after iteration {next_iter}")


def after_evaluation_hooks(model, output_dir, eval_period, metric, patience, checkpointables=None):
    """The hooks placed after the one that evaluates (they read its metric): the best
    checkpoint of ``metric`` in ``output_dir``/best/ (on the first process; with
    ``checkpointables``, e.g. the weights' average that was evaluated), and early
    stopping when ``patience`` > 0; none without periodic evaluation."""
    if eval_period <= 0:
        return []
    found = []
    if comm.is_main_process():
        # A checkpointer of its own, in best/: sharing the trainer's would point
        # last_checkpoint at the best model, and --resume would restart from there
        # instead of from the last iteration.
        best_dir = os.path.join(output_dir, "best")
        os.makedirs(best_dir, exist_ok=True)
        checkpointer = SafeCheckpointer(model, best_dir, **(checkpointables or {}))
        found.append(hooks.BestCheckpointer(eval_period, checkpointer, metric))
    if patience > 0:
        found.append(EarlyStopping(eval_period, metric, patience))
    return found
