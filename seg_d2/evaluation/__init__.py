from .sem_seg_dice import SemSegDiceEvaluator, dice_from_confusion

__all__ = ["SemSegDiceEvaluator", "dice_from_confusion"]
