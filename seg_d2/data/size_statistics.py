"""Settings that depend on how large and how crowded a dataset's objects are, proposed
from its COCO JSON, as the numbers of classes already come from the data.

The rule, from the boxes' sizes (the square root of width x height) at the test scale:

- the test size (and the largest training size) is the base config's, raised in steps of
  32 px until the small objects (the 10th percentile) are at least 8 px across, two cells
  of the finest FPN level (stride 4); the maximum sizes keep their ratio to it;
- the smallest anchor is the largest power of two not above those small objects, and the
  levels double from it, as in detectron2's FPN configs;
- ``TEST.DETECTIONS_PER_IMAGE`` is the first multiple of 50 above the most crowded image's
  instance count (COCO's maxDets follows it);
- the RPN keeps at least 2.5 proposals per detection after NMS in testing (250 x 2^k),
  and twice that before NMS.
"""

import math
from dataclasses import dataclass

import numpy as np
from detectron2.data.transforms import ResizeShortestEdge

from ..errors import DatasetError
from .validate import ValidationReport, read_coco_json, well_formed_sections

__all__ = ["SizeStatistics", "size_statistics", "suggested_settings"]

SMALL_OBJECT_PERCENTILE = 10
FINEST_LEVEL_PIXELS = 8
SIZE_STEP = 32
DETECTIONS_STEP = 50
PROPOSALS_PER_DETECTION = 2.5
FEWEST_PROPOSALS = 250


@dataclass
class SizeStatistics:
    json_file: str
    image_sizes: list  # (height, width) per image with an instance, in the order of sizes
    object_sizes: list  # per image: sqrt(w * h) of each instance's box, in pixels
    most_crowded: tuple  # (instance count, file name)


def size_statistics(json_file):
    """The sizes of a COCO instances JSON's images and objects; a DatasetError naming
    each malformed item."""
    report = ValidationReport(str(json_file))
    sections = well_formed_sections(report, read_coco_json(json_file))
    report.raise_if_errors()
    if sections is None:
        raise DatasetError(f"{json_file}: not a COCO instances JSON")
    images, annotations, _ = sections
    boxes = {}
    for annotation in annotations:
        if not annotation.get("iscrowd", 0):
            width, height = annotation["bbox"][2:]
            boxes.setdefault(annotation["image_id"], []).append(math.sqrt(width * height))
    if not boxes:
        raise DatasetError(f"{json_file}: no instance to measure")
    by_id = {image["id"]: image for image in images}
    ids = sorted(boxes, key=str)
    count, file_name = max((len(boxes[i]), by_id[i]["file_name"]) for i in ids)
    return SizeStatistics(
        str(json_file),
        [(by_id[i]["height"], by_id[i]["width"]) for i in ids],
        [boxes[i] for i in ids],
        (count, file_name),
    )


def _small_objects(statistics, min_size, max_size):
    """The small objects' size (the percentile) with images resized as detectron2 tests."""
    scaled = []
    for (height, width), sizes in zip(statistics.image_sizes, statistics.object_sizes):
        new_height, _ = ResizeShortestEdge.get_output_shape(height, width, min_size, max_size)
        scaled.extend(size * new_height / height for size in sizes)
    return float(np.percentile(scaled, SMALL_OBJECT_PERCENTILE))


def suggested_settings(statistics, cfg):
    """{KEY: value} for ``cfg`` (a config whose sizes are the starting point) and the
    small objects' size at the suggested test size."""
    base_test = cfg.INPUT.MIN_SIZE_TEST
    test_size = base_test - SIZE_STEP
    small = 0.0
    while small < FINEST_LEVEL_PIXELS:
        test_size += SIZE_STEP
        max_test = round(cfg.INPUT.MAX_SIZE_TEST * test_size / base_test)
        small = _small_objects(statistics, test_size, max_test)
    ratio = test_size / base_test
    smallest_anchor = 2 ** math.floor(math.log2(small))
    levels = len(cfg.MODEL.ANCHOR_GENERATOR.SIZES)
    detections = (statistics.most_crowded[0] // DETECTIONS_STEP + 1) * DETECTIONS_STEP
    proposals = FEWEST_PROPOSALS
    while proposals < PROPOSALS_PER_DETECTION * detections:
        proposals *= 2
    settings = {
        "INPUT.MIN_SIZE_TEST": test_size,
        "INPUT.MAX_SIZE_TEST": max_test,
        "INPUT.MIN_SIZE_TRAIN": tuple(round(size * ratio) for size in cfg.INPUT.MIN_SIZE_TRAIN),
        "INPUT.MAX_SIZE_TRAIN": round(cfg.INPUT.MAX_SIZE_TRAIN * ratio),
        "MODEL.ANCHOR_GENERATOR.SIZES": [[smallest_anchor * 2**level] for level in range(levels)],
        "TEST.DETECTIONS_PER_IMAGE": detections,
        "MODEL.RPN.POST_NMS_TOPK_TEST": proposals,
        "MODEL.RPN.PRE_NMS_TOPK_TEST": 2 * proposals,
    }
    return settings, small
