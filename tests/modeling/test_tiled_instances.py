"""Tiled Mask R-CNN inference: on an image small enough for both, a detector that finds
every blob exactly gives the same objects tile by tile as on the whole image (objects cut
by tile edges dropped, their whole selves kept), and the config turns it on."""

import seg_d2
from seg_d2.modeling import TiledGeneralizedRCNN, with_test_options

import numpy as np
import pytest
import torch
from detectron2.modeling import build_model
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances
from scipy import ndimage
from torch import nn


class _ExactBlobDetector(nn.Module):
    """Raw detections as GeneralizedRCNN.inference(do_postprocess=False) gives them: one
    per bright blob of the input, its box tight, its box-relative mask full, scored by
    area (so a whole object outscores a piece of it)."""

    def inference(self, batched_inputs, detected_instances=None, do_postprocess=True):
        results = []
        for inputs in batched_inputs:
            image = inputs["image"]
            labels, count = ndimage.label(image[0].numpy() > 127)
            boxes = [
                [cols.start, rows.start, cols.stop, rows.stop]
                for rows, cols in ndimage.find_objects(labels)
            ]
            boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            results.append(
                Instances(
                    tuple(image.shape[-2:]),
                    pred_boxes=Boxes(boxes),
                    scores=areas / 1000,
                    pred_classes=torch.zeros(count, dtype=torch.int64),
                    pred_masks=torch.ones(count, 1, 28, 28),
                )
            )
        return results


def _squares_image():
    image = np.zeros((3, 200, 300), dtype=np.float32)
    # Across tile edges (tiles of 96, 64 apart: edges at 64, 96, 128, 160, ...) and inside.
    for top, left, side in [
        (10, 10, 12),
        (58, 90, 20),
        (120, 150, 16),
        (180, 280, 15),
        (60, 200, 8),
    ]:
        image[:, top : top + side, left : left + side] = 255
    return torch.from_numpy(image)


def test_tiles_find_the_objects_the_whole_image_shows():
    detector = _ExactBlobDetector()
    image = _squares_image()
    inputs = [{"image": image, "height": 400, "width": 600}]  # outputs at twice the size
    whole = detector_postprocess(detector.inference(inputs, do_postprocess=False)[0], 400, 600)
    tiled = TiledGeneralizedRCNN(detector, size=96, stride=64, nms_thresh=0.5, max_detections=50)(
        inputs
    )[0]["instances"]
    assert len(tiled) == len(whole) == 5

    def by_position(instances):
        order = torch.argsort(
            instances.pred_boxes.tensor[:, 0] * 1000 + instances.pred_boxes.tensor[:, 1]
        )
        return instances[order]

    whole, tiled = by_position(whole), by_position(tiled)
    torch.testing.assert_close(tiled.pred_boxes.tensor, whole.pred_boxes.tensor)
    intersection = (tiled.pred_masks & whole.pred_masks).sum(dim=(1, 2)).float()
    union = (tiled.pred_masks | whole.pred_masks).sum(dim=(1, 2)).float()
    assert torch.all(intersection / union >= 0.9)


def test_at_most_the_configured_number_of_detections_are_kept():
    tiled = TiledGeneralizedRCNN(
        _ExactBlobDetector(), size=96, stride=64, nms_thresh=0.5, max_detections=2
    )
    instances = tiled([{"image": _squares_image()}])[0]["instances"]
    assert len(instances) == 2
    assert instances.scores.tolist() == pytest.approx([0.4, 0.256])  # the two largest squares


def test_the_config_tiles_mask_rcnn_and_outputs_at_the_image_size():
    cfg = seg_d2.setup_config(
        "configs/shapes/mask_rcnn_R18_FPN.yaml",
        [
            "MODEL.DEVICE",
            "cpu",
            "TEST.SLIDING_WINDOW.SIZE",
            64,
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
            0.0,
        ],
    )
    model = build_model(cfg).eval()
    tiled = with_test_options(cfg, model)
    assert isinstance(tiled, TiledGeneralizedRCNN)
    assert (tiled.size, tiled.stride, tiled.max_detections) == (
        64,
        42,
        cfg.TEST.DETECTIONS_PER_IMAGE,
    )
    with torch.no_grad():
        instances = tiled([{"image": torch.rand(3, 96, 128) * 255, "height": 48, "width": 64}])[0][
            "instances"
        ]
    assert 0 < len(instances) <= cfg.TEST.DETECTIONS_PER_IMAGE
    assert instances.pred_masks.shape[1:] == (48, 64)
    cfg.TEST.SLIDING_WINDOW.STRIDE = 50
    assert with_test_options(cfg, model).stride == 50
    with pytest.raises(ValueError, match="STRIDE in 1..SIZE"):
        TiledGeneralizedRCNN(model, size=64, stride=80, nms_thresh=0.5, max_detections=10)


def _tile_detections(boxes, tile_size=(10, 20)):
    return Instances(
        tile_size,
        pred_boxes=Boxes(torch.tensor(boxes, dtype=torch.float32)),
        scores=torch.ones(len(boxes)),
        pred_classes=torch.zeros(len(boxes), dtype=torch.int64),
    )


# A 10 x 20 tile's boxes (x0, y0, x1, y1), each at the 1-pixel margin of one edge (<= and
# >= count as touching), one inside, one 1.5 px from the left edge
EDGE_BOXES = [
    [1.0, 3.0, 5.0, 6.0],  # left
    [5.0, 1.0, 8.0, 6.0],  # top
    [5.0, 3.0, 19.0, 6.0],  # right
    [5.0, 3.0, 8.0, 9.0],  # bottom
    [5.0, 3.0, 8.0, 6.0],  # inside
    [1.5, 3.0, 5.0, 6.0],  # near the left edge, beyond the margin
]


@pytest.mark.parametrize(
    "top, left, image_size, kept",
    [
        # the image's top-left tile: its left and top edges are the image's
        (0, 0, (30, 50), [0, 1, 4, 5]),
        # inner on the left and top only: right and bottom edges are the image's
        (1, 1, (11, 21), [2, 3, 4, 5]),
        # inner on all four sides
        (5, 5, (40, 60), [4, 5]),
    ],
)
def test_detections_touching_an_inner_tile_edge_are_dropped(top, left, image_size, kept):
    tiled = TiledGeneralizedRCNN(None, 16, 8, 0.5, 100)  # the default margin: 1 pixel
    moved = tiled._in_image(_tile_detections(EDGE_BOXES), top, left, image_size)
    expected = torch.tensor([EDGE_BOXES[k] for k in kept]) + torch.tensor([left, top] * 2)
    assert moved.image_size == image_size
    torch.testing.assert_close(moved.pred_boxes.tensor, expected)


def test_window_sizes_and_strides_that_tile_and_those_refused():
    assert TiledGeneralizedRCNN(None, 1, 1, 0.5, 100).stride == 1
    assert TiledGeneralizedRCNN(None, 4, 4, 0.5, 100).stride == 4  # tiles without overlap
    assert TiledGeneralizedRCNN(None, 300, 0, 0.5, 100).stride == 200  # the default
    for size, stride in [(0, 0), (4, 5), (4, -1)]:
        with pytest.raises(ValueError, match="STRIDE in 1..SIZE"):
            TiledGeneralizedRCNN(None, size, stride, 0.5, 100)
