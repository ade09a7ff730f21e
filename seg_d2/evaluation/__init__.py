from .build import build_evaluator
from .sem_seg_dice import SemSegDiceEvaluator, dice_from_confusion

__all__ = ["SemSegDiceEvaluator", "build_evaluator", "dice_from_confusion"]
