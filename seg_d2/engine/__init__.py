from .trainer import RESULTS_FILE, Trainer, write_results

__all__ = ["RESULTS_FILE", "Trainer", "write_results"]
