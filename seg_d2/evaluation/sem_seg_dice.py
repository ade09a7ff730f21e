"""detectron2's SemSegEvaluator, with per-class Dice read off the same confusion matrix."""

import numpy as np
from detectron2.evaluation import SemSegEvaluator

__all__ = ["SemSegDiceEvaluator", "dice_from_confusion"]


def dice_from_confusion(confusion):
    """Per-class Dice, 2 TP / (2 TP + FP + FN), from SemSegEvaluator's matrix (rows:
    prediction, columns: ground truth, last row and column: the ignore label). A class
    neither in the ground truth nor predicted is NaN; one only predicted scores 0, as
    it counts in SemSegEvaluator's mIoU."""
    counted = confusion[:-1, :-1].astype(np.float64)
    true_positive = np.diag(counted)
    either = counted.sum(0) + counted.sum(1)
    dice = np.full(len(true_positive), np.nan)
    seen = either > 0
    dice[seen] = 2 * true_positive[seen] / either[seen]
    return dice


class SemSegDiceEvaluator(SemSegEvaluator):
    def evaluate(self):
        results = super().evaluate()
        if results is None:  # not the main process
            return results
        dice = dice_from_confusion(self._conf_matrix)
        metrics = results["sem_seg"]
        metrics["mDice"] = 100 * np.nanmean(dice) if np.isfinite(dice).any() else float("nan")
        for name, value in zip(self._class_names, dice):
            metrics[f"Dice-{name}"] = 100 * value
        return results
