"""What a model's output becomes in files: COCO results in the dataset's own category
ids, label maps, panoptic segments."""

import numpy as np
from detectron2.evaluation.coco_evaluation import instances_to_coco_json

from ..data.categories import thing_dataset_ids

__all__ = ["coco_records", "panoptic_segments", "semantic_labels"]


def coco_records(output, image_id, metadata):
    """The output's instances as COCO results (``category_id`` the dataset's own ids)."""
    dataset_id = thing_dataset_ids(metadata)
    records = instances_to_coco_json(output["instances"].to("cpu"), image_id)
    for record in records:
        record["category_id"] = dataset_id.get(record["category_id"], record["category_id"])
    return records


def semantic_labels(output):
    """The output's per-pixel class (contiguous ids) as an HxW uint8 array."""
    return output["sem_seg"].argmax(0).cpu().numpy().astype(np.uint8)


def panoptic_segments(output):
    """(HxW segment-id array, segments_info) of a panoptic output."""
    ids, segments = output["panoptic_seg"]
    return ids.cpu().numpy(), segments
