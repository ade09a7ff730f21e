#!/usr/bin/env python
"""The main job, for now a smoke run: build Mask R-CNN from a seg_d2 config, run one
training step and one inference on a generated image, print losses and detections."""
import time

import seg_d2  # noqa: F401  (first: fixes detectron2 0.6 before anything imports it)
import numpy as np
import torch
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances, PolygonMasks
from detectron2.utils.events import EventStorage


def generated_image(height=192, width=256):
    """A grey image with one bright square, and that square as ground truth."""
    image = torch.full((3, height, width), 90, dtype=torch.uint8)
    image[:, 40:120, 60:150] = 220
    instances = Instances((height, width))
    instances.gt_boxes = Boxes(torch.tensor([[60.0, 40.0, 150.0, 120.0]]))
    instances.gt_classes = torch.tensor([0])
    instances.gt_masks = PolygonMasks([[np.array([60, 40, 150, 40, 150, 120, 60, 120], dtype=float)]])
    return {"image": image, "instances": instances, "height": height, "width": width}


def main():
    start = time.perf_counter()
    print(seg_d2.collect_env_info().split("---")[0])
    cfg = seg_d2.load_config(
        "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml",
        ["MODEL.WEIGHTS", "", "MODEL.ROI_HEADS.NUM_CLASSES", "1"],
    )
    model = build_model(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    batch = [generated_image()]
    with EventStorage(0):
        losses = model(batch)
    optimizer.zero_grad()
    sum(losses.values()).backward()
    optimizer.step()
    print("training step losses:", {k: round(float(v), 4) for k, v in losses.items()})
    model.eval()
    with torch.no_grad():
        (output,) = model([{k: v for k, v in batch[0].items() if k != "instances"}])
    print(f"inference on a {batch[0]['width']}x{batch[0]['height']} image: "
          f"{len(output['instances'])} detections (untrained model)")
    print(f"smoke run done in {time.perf_counter() - start:.1f}s on {cfg.MODEL.DEVICE}")


if __name__ == "__main__":
    main()
