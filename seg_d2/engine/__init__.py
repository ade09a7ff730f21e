from .launch import launch
from .outputs import coco_records, panoptic_segments, semantic_labels
from .predictor import Predictor, load_model
from .train_loop import CPUAutocastTrainer, GradientAccumulationTrainer
from .trainer import RESULTS_FILE, Trainer, write_results

__all__ = [
    "CPUAutocastTrainer",
    "GradientAccumulationTrainer",
    "Predictor",
    "RESULTS_FILE",
    "Trainer",
    "coco_records",
    "launch",
    "load_model",
    "panoptic_segments",
    "semantic_labels",
    "write_results",
]
