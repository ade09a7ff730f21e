"""Mask R-CNN over overlapping tiles of a large image (``TEST.SLIDING_WINDOW`` for
instance models): each tile's raw detections, whose masks are relative to their boxes,
are moved into the image's coordinates and merged by class-wise NMS as detectron2 merges
one image's detections; masks are pasted once, into the whole image.

A detection that touches a tile's edge inside the image is dropped: it is an object cut
by the tile, seen whole in the neighbouring tile as long as the overlap (window size less
stride) is larger than the object. Objects larger than the overlap need larger windows.
"""

import torch
from detectron2.layers import batched_nms
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Instances
from torch import nn

from .sliding_window import window_origins, window_stride

__all__ = ["TiledGeneralizedRCNN"]


class TiledGeneralizedRCNN(nn.Module):
    """A ``GeneralizedRCNN`` run tile by tile; same inputs and outputs as its inference."""

    def __init__(self, model, size, stride, nms_thresh, max_detections, edge_margin=1.0):
        super().__init__()
        stride = window_stride(size, stride)
        if size <= 0 or not 0 < stride <= size:
            raise ValueError(
                f"TEST.SLIDING_WINDOW: SIZE must be positive and STRIDE in 1..SIZE, "
                f"not {size} and {stride}"
            )
        self.model, self.size, self.stride = model, size, stride
        self.nms_thresh, self.max_detections = nms_thresh, max_detections
        self.edge_margin = edge_margin

    def forward(self, batched_inputs):
        return [self._detect(inputs) for inputs in batched_inputs]

    def _detect(self, inputs):
        image = inputs["image"]
        height, width = image.shape[-2:]
        found = []
        for top, left in window_origins(height, width, self.size, self.stride):
            tile = image[:, top : top + self.size, left : left + self.size]
            detections = self.model.inference([{"image": tile}], do_postprocess=False)[0]
            found.append(self._in_image(detections, top, left, (height, width)))
        merged = Instances.cat(found)
        keep = batched_nms(
            merged.pred_boxes.tensor, merged.scores, merged.pred_classes, self.nms_thresh
        )
        merged = merged[keep[: self.max_detections]]
        size = (inputs.get("height", height), inputs.get("width", width))
        return {"instances": detector_postprocess(merged, *size)}

    def _in_image(self, detections, top, left, image_size):
        """The tile's detections but those cut by an inner edge, in image coordinates."""
        boxes = detections.pred_boxes.tensor
        tile_height, tile_width = detections.image_size
        margin = self.edge_margin
        cut = torch.zeros(len(detections), dtype=torch.bool, device=boxes.device)
        if left > 0:
            cut |= boxes[:, 0] <= margin
        if top > 0:
            cut |= boxes[:, 1] <= margin
        if left + tile_width < image_size[1]:
            cut |= boxes[:, 2] >= tile_width - margin
        if top + tile_height < image_size[0]:
            cut |= boxes[:, 3] >= tile_height - margin
        kept = detections[~cut]
        moved = Instances(image_size, **kept.get_fields())
        moved.pred_boxes.tensor += boxes.new_tensor([left, top, left, top])
        return moved
