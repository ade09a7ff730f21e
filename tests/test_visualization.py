"""The pictures seg_d2.visualization draws: panels, error overlays, contact sheets."""

from seg_d2.visualization import (
    contact_sheet,
    ground_truth_panel,
    prediction_panel,
    semantic_error_overlay,
    side_by_side,
)

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import perfect_results
from PIL import Image
from pycocotools import mask as mask_util

TITLE = 22  # the title strip above each panel
SIDE = 256  # shapes images are 256x256


def test_ground_truth_panel_paints_exactly_the_instance(tmp_path):
    Image.new("RGB", (200, 160), (128, 128, 128)).save(tmp_path / "grey.png")
    mask = np.zeros((160, 200), bool)
    mask[60:100, 80:120] = True
    record = {
        "file_name": str(tmp_path / "grey.png"),
        "height": 160,
        "width": 200,
        "image_id": 1,
        "annotations": [
            {
                "bbox": [80, 60, 40, 40],
                "bbox_mode": 1,
                "category_id": 0,
                "iscrowd": 0,
                "segmentation": mask_util.encode(np.asfortranarray(mask.astype(np.uint8))),
            }
        ],
    }
    MetadataCatalog.get("grey_test").set(thing_classes=["box"])
    try:
        panel = ground_truth_panel(record, MetadataCatalog.get("grey_test"))
    finally:
        MetadataCatalog.remove("grey_test")
    changed = np.abs(panel.astype(int) - 128).sum(2) > 0
    assert changed[62:98, 82:118].all()
    # Nothing is painted above, left or right of the instance (its label goes below it).
    assert not changed[:57].any() and not changed[:, :77].any() and not changed[:100, 123:].any()


def test_prediction_panel_draws_only_instances_at_or_above_the_threshold():
    from detectron2.structures import Boxes, Instances

    image = np.full((120, 200, 3), 128, np.uint8)
    masks = torch.zeros(2, 120, 200, dtype=torch.bool)
    masks[0, 40:80, 20:60] = True  # confident, on the left
    masks[1, 40:80, 140:180] = True  # below the threshold, on the right
    instances = Instances(
        (120, 200),
        pred_boxes=Boxes(torch.tensor([[20.0, 40, 60, 80], [140, 40, 180, 80]])),
        scores=torch.tensor([0.9, 0.3]),
        pred_classes=torch.tensor([0, 0]),
        pred_masks=masks,
    )
    MetadataCatalog.get("threshold_test").set(thing_classes=["box"])
    try:
        panel = prediction_panel(
            image, {"instances": instances}, MetadataCatalog.get("threshold_test"), 0.5
        )
    finally:
        MetadataCatalog.remove("threshold_test")
    changed = np.abs(panel.astype(int) - 128).sum(2) > 0
    assert changed[45:75, 25:55].all() and not changed[:, 120:].any()


def test_semantic_errors_paint_the_wrong_pixels_and_no_others():
    image = np.zeros((2, 3, 3), np.uint8)
    truth = np.array([[0, 1, 255], [2, 2, 2]])
    prediction = np.array([[0, 2, 1], [2, 0, 2]])
    painted = semantic_error_overlay(image, truth, prediction).sum(2) > 0
    # wrong: (0, 1) and (1, 1); (0, 2) differs but is ignored
    assert painted.tolist() == [[False, True, False], [False, True, False]]


def test_contact_sheet_tiles_row_by_row():
    panels = [
        np.zeros((10, 20, 3), np.uint8),
        np.zeros((12, 8, 3), np.uint8),
        np.zeros((5, 5, 3), np.uint8),
    ]
    assert contact_sheet(panels, columns=2, gap=1).shape == (2 * 12 + 1, 2 * 20 + 1, 3)


def test_contact_sheet_places_each_panel_in_its_cell_on_white_four_to_a_row():
    panels = [np.full((10, 20, 3), 40 * k, np.uint8) for k in range(1, 6)]
    panels[1] = panels[1][:6]  # a shorter panel: padded below with white
    sheet = contact_sheet(panels)
    assert sheet.shape == (2 * 10 + 4, 4 * 20 + 3 * 4, 3)
    assert (sheet[:10, :20] == 40).all() and (sheet[:6, 24:44] == 80).all()
    assert (sheet[14:24, :20] == 200).all()  # the fifth starts the second row
    for white in (sheet[6:10, 24:44], sheet[:10, 20:24], sheet[10:14], sheet[14:, 20:]):
        assert (white == 255).all()


def test_side_by_side_pads_shorter_panels_and_gaps_with_white():
    row = side_by_side([np.zeros((4, 3, 3), np.uint8), np.zeros((2, 5, 3), np.uint8)], gap=2)
    assert row.shape == (4, 3 + 2 + 5, 3)
    assert (row[:, :3] == 0).all() and (row[:2, 5:] == 0).all()
    assert (row[:, 3:5] == 255).all() and (row[2:, 5:] == 255).all()


def test_contact_sheet_shrinks_wide_panels_to_its_width_and_keeps_small_ones():
    """13 full-size photos must not make an 8000-px sheet: cells shrink, aspect kept."""
    photo = np.zeros((1000, 2000, 3), np.uint8)
    photo[:, :1000] = 255  # left half white: shrinking must keep it on the left
    small = np.full((30, 40, 3), 7, np.uint8)
    sheet = contact_sheet([photo] * 3 + [small], columns=4, gap=4, max_width=404)
    assert sheet.shape == (49, 404, 3)  # cells 98 px wide: (404 - 3 * 4) / 4; 2:1 photos 49 high
    assert sheet[:49, :49].min() == 255 and sheet[:49, 50:98].max() == 0
    assert (sheet[:30, 306:346] == 7).all()  # the small panel at its own size
    assert contact_sheet([small], columns=4, max_width=404).shape == (30, 40, 3)


def test_semantic_errors_blend_the_error_colour_over_the_image():
    image = np.full((1, 2, 3), 100, np.uint8)
    painted = semantic_error_overlay(image, np.array([[0, 1]]), np.array([[0, 2]]))
    assert painted.dtype == np.uint8
    assert painted[0, 0].tolist() == [100, 100, 100]
    # 0.4 of the image and 0.6 of (255, 0, 0)
    assert np.abs(painted[0, 1].astype(int) - [193, 40, 40]).max() <= 1


def test_the_error_panel_paints_missed_and_false_positive_masks_in_the_error_colour():
    from seg_d2.visualization import instance_error_panel

    from detectron2.data import Metadata
    from detectron2.structures import Instances

    image = np.full((40, 60, 3), 128, np.uint8)
    missed, false_positive = np.zeros((40, 60), bool), np.zeros((40, 60), bool)
    missed[5:20, 5:25] = True
    false_positive[22:38, 35:58] = True
    instances = Instances((40, 60))
    instances.pred_masks = torch.from_numpy(np.stack([false_positive, false_positive]))
    panel = instance_error_panel(image, instances, [1], [missed], Metadata())
    redness = panel[..., 0].astype(int) - panel[..., 1]
    assert redness[missed].mean() > 40 and redness[false_positive].mean() > 40
    assert np.median(redness[~(missed | false_positive)]) == 0  # outlines and labels aside
    empty = instance_error_panel(image, instances, [], [], Metadata())
    assert np.array_equal(empty, image)


def _perfect_instances(dataset):
    """(record, metadata, its perfect predictions as Instances, their results entries)."""
    from detectron2.structures import BitMasks, Instances

    record = DatasetCatalog.get(dataset)[0]
    metadata = MetadataCatalog.get(dataset)
    perfect = [r for r in perfect_results(dataset) if r["image_id"] == record["image_id"]]
    instances = Instances((record["height"], record["width"]))
    instances.pred_masks = torch.from_numpy(
        np.stack([mask_util.decode(r["segmentation"]) for r in perfect]).astype(bool)
    )
    instances.pred_boxes = BitMasks(instances.pred_masks).get_bounding_boxes()
    instances.scores = torch.ones(len(perfect))
    instances.pred_classes = torch.tensor([a["category_id"] for a in record["annotations"]])
    return record, metadata, instances, perfect


def _titles(monkeypatch):
    from seg_d2 import visualization

    titles = []
    drawn = visualization.titled
    monkeypatch.setattr(
        visualization, "titled", lambda panel, title: titles.append(title) or drawn(panel, title)
    )
    return titles


def test_compare_panel_titles_give_the_images_scores_and_errors(tiny_val, monkeypatch):
    from seg_d2.evaluation.per_image import coco_ground_truth
    from seg_d2.visualization import compare_panel

    record, metadata, instances, _ = _perfect_instances(tiny_val)
    coco_gt = coco_ground_truth(metadata.json_file)
    titles = _titles(monkeypatch)
    compare_panel(record, {"instances": instances}, metadata, coco_gt=coco_gt, errors=True)
    assert titles == ["ground truth", "prediction: mask AP 100.0", "errors: 0 FP, 0 missed"]
    titles.clear()
    # Under the threshold: not drawn, and its truth missed on the error panel; COCO's AP
    # still ranks it among the detections.
    instances.scores[0] = 0.3
    compare_panel(record, {"instances": instances}, metadata, coco_gt=coco_gt, errors=True)
    assert titles == ["ground truth", "prediction: mask AP 100.0", "errors: 0 FP, 1 missed"]
    titles.clear()
    panel = compare_panel(
        record, {"instances": instances}, metadata, coco_gt=coco_gt, score_threshold=0.2
    )
    assert titles == ["ground truth", "prediction: mask AP 100.0"]
    assert panel.shape[1] == 2 * SIDE + 4  # two panels
    titles.clear()
    compare_panel(record, {"instances": instances}, metadata)  # no ground truth: no score
    assert titles == ["ground truth", "prediction"]


def test_compare_panel_of_a_semantic_output_scores_miou_and_paints_wrong_pixels(
    tiny_val, monkeypatch
):
    from seg_d2.visualization import compare_panel

    record = dict(DatasetCatalog.get(f"{tiny_val}_sem_seg")[0])
    metadata = MetadataCatalog.get(f"{tiny_val}_sem_seg")
    truth = np.asarray(Image.open(record["sem_seg_file_name"])).astype(np.int64)
    classes = len(metadata.stuff_classes)
    logits = torch.nn.functional.one_hot(torch.from_numpy(truth).clamp(max=classes - 1), classes)
    titles = _titles(monkeypatch)
    panel = compare_panel(
        record, {"sem_seg": logits.permute(2, 0, 1).float()}, metadata, errors=True
    )
    assert titles == ["ground truth", "prediction: mIoU 100.0", "errors: wrong-class pixels"]
    image = np.asarray(Image.open(record["file_name"]).convert("RGB"))
    assert np.array_equal(panel[TITLE:, 2 * (SIDE + 4) :], image)  # nothing wrong to paint


def test_the_error_panel_shows_what_the_images_mask_ap_counts(tiny_val):
    """Perfect predictions leave the error panel the bare image; without the first one, its
    ground truth is painted as missed."""
    from seg_d2.evaluation.per_image import coco_ground_truth
    from seg_d2.visualization import compare_panel

    record, metadata, instances, perfect = _perfect_instances(tiny_val)
    coco_gt = coco_ground_truth(metadata.json_file)
    image = np.asarray(Image.open(record["file_name"]).convert("RGB"))

    def error_panel(kept):
        output = {"instances": instances[kept]}
        panels = compare_panel(record, output, metadata, coco_gt=coco_gt, errors=True)
        return panels[TITLE:, 2 * (SIDE + 4) :]

    assert np.array_equal(error_panel(slice(None)), image)
    first = mask_util.decode(perfect[0]["segmentation"]).astype(bool)
    change = np.abs(error_panel(slice(1, None)).astype(int) - image).sum(2)
    assert change[first].mean() > 30 and np.median(change[~first]) == 0
    with pytest.raises(ValueError, match="need the COCO ground truth"):
        compare_panel(record, {"instances": instances}, metadata, errors=True)


def test_the_error_panel_labels_missed_and_false_positive_masks_on_the_image(monkeypatch):
    from seg_d2 import visualization

    from detectron2.data import Metadata
    from detectron2.structures import Instances
    from detectron2.utils.visualizer import ColorMode

    drawn, made = [], visualization._visualizer

    def recorded(image, metadata, **kwargs):
        visualizer = made(image, metadata, **kwargs)
        overlay = visualizer.overlay_instances
        visualizer.overlay_instances = lambda **drawing: (
            drawn.append((metadata, kwargs, drawing)) or overlay(**drawing)
        )
        return visualizer

    monkeypatch.setattr(visualization, "_visualizer", recorded)
    missed = np.zeros((40, 60), bool)
    missed[5:20, 5:25] = True
    instances = Instances((40, 60))
    instances.pred_masks = torch.from_numpy(np.stack([missed, ~missed]))
    metadata = Metadata(thing_classes=["a"])
    image = np.full((40, 60, 3), 128, np.uint8)
    visualization.instance_error_panel(image, instances, [1], [missed], metadata)
    [(given, options, drawing)] = drawn
    assert given is metadata and options == {"instance_mode": ColorMode.IMAGE}
    assert drawing["labels"] == ["missed", "FP"]
    assert np.array_equal(drawing["masks"][1], ~missed)
    red = np.array(visualization.ERROR_COLOR) / 255
    assert all(np.array_equal(colour, red) for colour in drawing["assigned_colors"])


def test_compare_panel_scores_both_kinds_of_output_and_needs_truth_for_the_pixels(
    tiny_val, monkeypatch
):
    from seg_d2 import visualization
    from seg_d2.evaluation.per_image import coco_ground_truth

    from detectron2.data import Metadata

    record, metadata, instances, _ = _perfect_instances(tiny_val)
    semantic = DatasetCatalog.get(f"{tiny_val}_sem_seg")[0]
    assert semantic["image_id"] == record["image_id"]
    truth = np.asarray(Image.open(semantic["sem_seg_file_name"])).astype(np.int64)
    classes = len(MetadataCatalog.get(f"{tiny_val}_sem_seg").stuff_classes)
    logits = torch.nn.functional.one_hot(torch.from_numpy(truth).clamp(max=classes - 1), classes)
    output = {"instances": instances, "sem_seg": logits.permute(2, 0, 1).float()}
    counted, miou = [], visualization.image_miou
    monkeypatch.setattr(
        visualization,
        "image_miou",
        lambda truth, prediction, n: counted.append(n) or miou(truth, prediction, n),
    )
    titles = _titles(monkeypatch)
    coco_gt = coco_ground_truth(metadata.json_file)
    both = dict(record, sem_seg_file_name=semantic["sem_seg_file_name"])
    semantic_metadata = MetadataCatalog.get(f"{tiny_val}_sem_seg")
    things_and_stuff = Metadata(**{k: v for k, v in metadata.as_dict().items() if k != "name"})
    things_and_stuff.stuff_classes = semantic_metadata.stuff_classes
    visualization.compare_panel(both, output, things_and_stuff, coco_gt=coco_gt)
    assert titles == ["ground truth", "prediction: mask AP 100.0, mIoU 100.0"]
    assert counted == [classes]
    unlabelled = {k: v for k, v in semantic.items() if k != "sem_seg_file_name"}
    titles.clear()  # a record without labels: no mIoU, no error panel
    panel = visualization.compare_panel(
        unlabelled, {"sem_seg": output["sem_seg"]}, semantic_metadata, errors=True
    )
    assert titles == ["ground truth", "prediction"] and panel.shape[1] == 2 * SIDE + 4
