"""Pictures of ground truth and predictions, drawn by detectron2's ``Visualizer``;
seg_d2 adds only what it lacks: titled panels, side-by-side and contact sheets,
per-image scores and error highlighting."""

import contextlib
import io
import math

import cv2
import numpy as np
import pycocotools.mask as mask_util
from detectron2.evaluation.coco_evaluation import instances_to_coco_json
from detectron2.utils.visualizer import ColorMode, Visualizer
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .data.categories import thing_dataset_ids
from .data.image_io import read_image
from .data.masks import mask_to_rle, segmentation_to_mask

__all__ = [
    "ERROR_COLOR",
    "coco_ground_truth",
    "compare_panel",
    "contact_sheet",
    "ground_truth_panel",
    "image_mask_ap",
    "image_miou",
    "instance_error_panel",
    "instance_errors",
    "prediction_panel",
    "semantic_error_overlay",
    "side_by_side",
    "titled",
]

ERROR_COLOR = (255, 0, 0)  # RGB
_TITLE_HEIGHT = 22
# Panels of larger images are drawn scaled down to this many pixels on the long side:
# an 8000x8000 photo drawn at full size takes half a minute and is no easier to look at.
MAX_PANEL_SIDE = 2048


def _visualizer(image, metadata, **kwargs):
    scale = min(1.0, MAX_PANEL_SIDE / max(image.shape[:2]))
    return Visualizer(image, metadata, scale=scale, **kwargs)


def ground_truth_panel(record, metadata):
    """A dataset record (instances, semantic or panoptic) drawn on its image, RGB."""
    image = read_image(record["file_name"], format="RGB")
    return _visualizer(image, metadata).draw_dataset_dict(record).get_image()


def prediction_panel(image, output, metadata, score_threshold=0.5):
    """A model's output for one image drawn on it (``image`` RGB, at the output's size):
    panoptic if present, else instances above ``score_threshold``, else semantic."""
    visualizer = _visualizer(image, metadata, instance_mode=ColorMode.IMAGE)
    if "panoptic_seg" in output:
        panoptic, segments = output["panoptic_seg"]
        return visualizer.draw_panoptic_seg(panoptic.cpu(), segments).get_image()
    if "instances" in output:
        instances = output["instances"].to("cpu")
        return visualizer.draw_instance_predictions(
            instances[instances.scores >= score_threshold]
        ).get_image()
    return visualizer.draw_sem_seg(output["sem_seg"].argmax(0).cpu()).get_image()


def titled(panel, title):
    """The panel under a white strip holding ``title`` (in ASCII, as OpenCV's fonts are:
    a file name that is not valid UTF-8 would crash cv2.putText)."""
    title = title.encode("ascii", "backslashreplace").decode("ascii")
    strip = np.full((_TITLE_HEIGHT, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(
        strip,
        title,
        (4, _TITLE_HEIGHT - 7),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return np.concatenate([strip, panel], axis=0)


def _pad_to(panel, height, width):
    padded = np.full((height, width, 3), 255, np.uint8)
    padded[: panel.shape[0], : panel.shape[1]] = panel
    return padded


def side_by_side(panels, gap=4):
    height = max(p.shape[0] for p in panels)
    spacer = np.full((height, gap, 3), 255, np.uint8)
    row = []
    for k, panel in enumerate(panels):
        row += ([spacer] if k else []) + [_pad_to(panel, height, panel.shape[1])]
    return np.concatenate(row, axis=1)


def contact_sheet(panels, columns=4, gap=4, max_width=2048):
    """Panels tiled row by row, each cell the size of the largest panel; panels shrink
    (never grow) so that the sheet is at most ``max_width`` pixels wide, as full-size
    photos side by side make a sheet no viewer shows usefully."""
    columns = min(columns, len(panels))
    cell_width = max(1, (max_width - gap * (columns - 1)) // columns)
    panels = [_shrink_to_width(p, cell_width) for p in panels]
    height, width = max(p.shape[0] for p in panels), max(p.shape[1] for p in panels)
    rows = math.ceil(len(panels) / columns)
    sheet = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for k, panel in enumerate(panels):
        top, left = (k // columns) * (height + gap), (k % columns) * (width + gap)
        sheet[top : top + panel.shape[0], left : left + panel.shape[1]] = panel
    return sheet


def _shrink_to_width(panel, width):
    if panel.shape[1] <= width:
        return panel
    height = max(1, round(panel.shape[0] * width / panel.shape[1]))
    return cv2.resize(panel, (width, height), interpolation=cv2.INTER_AREA)


def instance_errors(gt_masks, gt_classes, pred_masks, pred_classes, iou_threshold=0.5):
    """Greedy matching in the given (score) order, one prediction per ground truth of its
    class at mask IoU >= ``iou_threshold``: (false-positive prediction indices, missed
    ground-truth indices)."""
    if len(pred_masks) == 0 or len(gt_masks) == 0:
        return list(range(len(pred_masks))), list(range(len(gt_masks)))
    ious = mask_util.iou(
        [mask_to_rle(m) for m in pred_masks],
        [mask_to_rle(m) for m in gt_masks],
        [0] * len(gt_masks),
    )
    matched, false_positives = set(), []
    for p, cls in enumerate(pred_classes):
        candidates = [
            (ious[p, g], g)
            for g in range(len(gt_masks))
            if gt_classes[g] == cls and g not in matched and ious[p, g] >= iou_threshold
        ]
        if candidates:
            matched.add(max(candidates)[1])
        else:
            false_positives.append(p)
    return false_positives, [g for g in range(len(gt_masks)) if g not in matched]


def image_mask_ap(coco_gt, instances, image_id, metadata):
    """COCO mask AP (0-100) of one image's predictions, by pycocotools; NaN when the
    image has no ground truth."""
    if not coco_gt.getAnnIds(imgIds=[image_id], iscrowd=False):
        return float("nan")
    dataset_id = thing_dataset_ids(metadata)
    detections = instances_to_coco_json(instances.to("cpu"), image_id)
    for detection in detections:
        detection["category_id"] = dataset_id[detection["category_id"]]
    if not detections:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(detections), "segm")
        coco_eval.params.imgIds = [image_id]
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return 100 * max(coco_eval.stats[0], 0.0)


def image_miou(truth, prediction, num_classes, ignore_label=255):
    """Mean IoU over the classes in the ground truth or the prediction of one image."""
    valid = truth != ignore_label
    ious = []
    for c in range(num_classes):
        t, p = (truth == c) & valid, (prediction == c) & valid
        union = (t | p).sum()
        if union:
            ious.append((t & p).sum() / union)
    return 100 * float(np.mean(ious)) if ious else float("nan")


def semantic_error_overlay(panel, truth, prediction, ignore_label=255, alpha=0.6):
    """``panel`` with the wrongly classified pixels painted ERROR_COLOR."""
    wrong = (truth != prediction) & (truth != ignore_label)
    out = panel.astype(np.float32)
    out[wrong] = (1 - alpha) * out[wrong] + alpha * np.array(ERROR_COLOR, np.float32)
    return out.astype(np.uint8)


def instance_error_panel(image, instances, false_positives, gt_masks, missed, metadata):
    """Missed ground truth and false-positive predictions, both in ERROR_COLOR, with
    "missed"/"FP" labels."""
    visualizer = _visualizer(image, metadata, instance_mode=ColorMode.IMAGE)
    masks = [gt_masks[g] for g in missed] + [
        instances.pred_masks[p].numpy() for p in false_positives
    ]
    labels = ["missed"] * len(missed) + ["FP"] * len(false_positives)
    if not masks:
        return visualizer.output.get_image()
    return visualizer.overlay_instances(
        masks=masks, labels=labels, assigned_colors=[np.array(ERROR_COLOR) / 255] * len(masks)
    ).get_image()


def coco_ground_truth(json_file):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(json_file)


def _ground_truth_masks(record):
    annotations = [a for a in record.get("annotations", []) if not a.get("iscrowd", 0)]
    height, width = record["height"], record["width"]
    masks = [segmentation_to_mask(a["segmentation"], height, width) for a in annotations]
    return [m.astype(bool) for m in masks], [a["category_id"] for a in annotations]


def compare_panel(record, output, metadata, *, coco_gt=None, errors=False, score_threshold=0.5):
    """``ground truth | prediction [| errors]`` for one dataset record and the model's
    output at the record's size, the prediction titled with its mask AP and/or mIoU."""
    image = read_image(record["file_name"], format="RGB")
    scores = []
    instances = output.get("instances")
    if instances is not None:
        instances = instances.to("cpu")
        if coco_gt is not None:
            scores.append(
                f"mask AP {image_mask_ap(coco_gt, instances, record['image_id'], metadata):.1f}"
            )
        instances = instances[instances.scores >= score_threshold]
    truth = prediction = None
    if "sem_seg" in output and "sem_seg_file_name" in record:
        truth = read_image(record["sem_seg_file_name"]).astype(np.int64)
        prediction = output["sem_seg"].argmax(0).cpu().numpy()
        scores.append(f"mIoU {image_miou(truth, prediction, output['sem_seg'].shape[0]):.1f}")
    panels = [
        titled(ground_truth_panel(record, metadata), "ground truth"),
        titled(
            prediction_panel(image, output, metadata, score_threshold),
            "prediction" + (": " + ", ".join(scores) if scores else ""),
        ),
    ]
    if errors and instances is not None and "annotations" in record:
        gt_masks, gt_classes = _ground_truth_masks(record)
        order = np.argsort(-instances.scores.numpy(), kind="stable")
        instances = instances[order]
        false_positives, missed = instance_errors(
            gt_masks, gt_classes, instances.pred_masks.numpy(), instances.pred_classes.tolist()
        )
        panels.append(
            titled(
                instance_error_panel(image, instances, false_positives, gt_masks, missed, metadata),
                f"errors: {len(false_positives)} FP, {len(missed)} missed",
            )
        )
    elif errors and truth is not None:
        panels.append(
            titled(semantic_error_overlay(image, truth, prediction), "errors: wrong-class pixels")
        )
    return side_by_side(panels)
