"""The evaluators that fit a dataset, for YAML and Python configs alike."""

from detectron2.data import MetadataCatalog
from detectron2.evaluation import COCOEvaluator, COCOPanopticEvaluator, DatasetEvaluators

from ..data.coco import ensure_derived_files
from .sem_seg_dice import SemSegDiceEvaluator

__all__ = ["build_evaluator"]


def build_evaluator(dataset_name, output_dir, max_dets_per_image=100):
    """COCO AP, mIoU + Dice and PQ as the dataset's ``evaluator_type`` asks: all three for
    a panoptic dataset, as detectron2's train_net does. COCO's maxDets follows the
    model's ``max_dets_per_image``, so that crowded images are scored on all detections."""
    ensure_derived_files(dataset_name)  # the evaluators read them when built
    evaluator_type = MetadataCatalog.get(dataset_name).evaluator_type
    evaluators = []
    if evaluator_type in ("coco", "coco_panoptic_seg"):
        evaluators.append(
            COCOEvaluator(
                dataset_name, output_dir=output_dir, max_dets_per_image=max_dets_per_image
            )
        )
    if evaluator_type in ("sem_seg", "coco_panoptic_seg"):
        evaluators.append(
            SemSegDiceEvaluator(dataset_name, distributed=True, output_dir=output_dir)
        )
    if evaluator_type == "coco_panoptic_seg":
        evaluators.append(COCOPanopticEvaluator(dataset_name, output_dir))
    if not evaluators:
        raise NotImplementedError(
            f"no evaluator for dataset {dataset_name!r} of evaluator_type {evaluator_type!r}"
        )
    return DatasetEvaluators(evaluators)
