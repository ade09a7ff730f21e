"""detectron2's DefaultTrainer, told which evaluator fits each seg_d2 dataset."""
import os

from detectron2.data import MetadataCatalog
from detectron2.engine import DefaultTrainer
from detectron2.evaluation import COCOEvaluator, DatasetEvaluators

__all__ = ["Trainer"]


class Trainer(DefaultTrainer):
    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        evaluator_type = MetadataCatalog.get(dataset_name).evaluator_type
        evaluators = []
        if evaluator_type == "coco":
            evaluators.append(COCOEvaluator(dataset_name, output_dir=output_folder))
        if not evaluators:
            raise NotImplementedError(
                f"no evaluator for dataset {dataset_name!r} of evaluator_type {evaluator_type!r}"
            )
        return DatasetEvaluators(evaluators)
