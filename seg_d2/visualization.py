"""Pictures of ground truth and predictions, drawn by detectron2's ``Visualizer``;
seg_d2 adds only what it lacks: titled panels, side-by-side and contact sheets, and
error highlighting (the per-image scores and errors come from
``seg_d2.evaluation.per_image``)."""

import math

import cv2
import numpy as np
from detectron2.utils.visualizer import ColorMode, Visualizer

from .data.image_io import read_image
from .evaluation.per_image import evaluate_image_masks, image_miou

__all__ = [
    "ERROR_COLOR",
    "compare_panel",
    "contact_sheet",
    "ground_truth_panel",
    "instance_error_panel",
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


def semantic_error_overlay(panel, truth, prediction, ignore_label=255, alpha=0.6):
    """``panel`` with the wrongly classified pixels painted ERROR_COLOR."""
    wrong = (truth != prediction) & (truth != ignore_label)
    out = panel.astype(np.float32)
    out[wrong] = (1 - alpha) * out[wrong] + alpha * np.array(ERROR_COLOR, np.float32)
    return out.astype(np.uint8)


def instance_error_panel(image, instances, false_positives, missed_masks, metadata):
    """Missed ground truth and false-positive predictions, both in ERROR_COLOR, with
    "missed"/"FP" labels."""
    visualizer = _visualizer(image, metadata, instance_mode=ColorMode.IMAGE)
    masks = list(missed_masks) + [instances.pred_masks[p].numpy() for p in false_positives]
    labels = ["missed"] * len(missed_masks) + ["FP"] * len(false_positives)
    if not masks:
        return visualizer.output.get_image()
    return visualizer.overlay_instances(
        masks=masks, labels=labels, assigned_colors=[np.array(ERROR_COLOR) / 255] * len(masks)
    ).get_image()


def compare_panel(record, output, metadata, *, coco_gt=None, errors=False, score_threshold=0.5):
    """``ground truth | prediction [| errors]`` for one dataset record and the model's
    output at the record's size, the prediction titled with its mask AP (from ``coco_gt``,
    which instance errors need too) and/or mIoU."""
    image = read_image(record["file_name"], format="RGB")
    scores = []
    instances = output.get("instances")
    if instances is not None:
        instances = instances.to("cpu")
    evaluation = None
    if instances is not None and coco_gt is not None:
        evaluation = evaluate_image_masks(
            coco_gt, instances, record["image_id"], metadata, score_threshold
        )
        scores.append(f"mask AP {evaluation.ap:.1f}")
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
    if errors and instances is not None:
        if evaluation is None:
            raise ValueError("instance errors need the COCO ground truth (coco_gt)")
        gt_masks = [coco_gt.annToMask(coco_gt.anns[g]).astype(bool) for g in evaluation.missed]
        panels.append(
            titled(
                instance_error_panel(
                    image, instances, evaluation.false_positives, gt_masks, metadata
                ),
                f"errors: {len(evaluation.false_positives)} FP, {len(gt_masks)} missed",
            )
        )
    elif errors and truth is not None:
        panels.append(
            titled(semantic_error_overlay(image, truth, prediction), "errors: wrong-class pixels")
        )
    return side_by_side(panels)
