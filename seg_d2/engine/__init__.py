from .autocast import CPUAutocastTrainer
from .trainer import RESULTS_FILE, Trainer, write_results

__all__ = ["CPUAutocastTrainer", "RESULTS_FILE", "Trainer", "write_results"]
