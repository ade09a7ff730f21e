"""A detectron2 model-zoo Mask R-CNN builds through seg_d2 and trains on the CPU."""

import itertools
import math

import seg_d2

import numpy as np
import torch
from detectron2.engine import SimpleTrainer
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer
from detectron2.structures import Boxes, Instances, PolygonMasks
from detectron2.utils.events import EventStorage


def _one_image_batch():
    image = torch.randint(
        0, 256, (3, 96, 128), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    instances = Instances((96, 128))
    instances.gt_boxes = Boxes(torch.tensor([[10.0, 12.0, 60.0, 70.0]]))
    instances.gt_classes = torch.tensor([1])
    instances.gt_masks = PolygonMasks([[np.array([10, 12, 60, 12, 60, 70, 10, 70], dtype=float)]])
    return [{"image": image, "instances": instances, "height": 96, "width": 128}]


def test_loading_a_config_changes_nothing_else_and_setting_up_decides_the_rest(tmp_path):
    """load_config reads the file: detectron2's default device stays, the dataset a config
    line names is not registered, the numbers of classes stay 0. setup_config then picks
    the CPU where CUDA is missing, registers the dataset and takes the classes from it."""
    from detectron2.config import get_cfg as detectron2_cfg
    from detectron2.data import DatasetCatalog
    from helpers import load_module, unregister

    # by path: run alone, this file does not have tests/data on sys.path
    json_file, images, _ = load_module("tests/data/test_data_coco.py")._tiny_coco(tmp_path)
    opts = [
        "DATASETS.COCO_FORMAT",
        f"['pure_load={json_file}:{images}']",
        "DATASETS.TRAIN",
        "('pure_load',)",
        "DATASETS.TEST",
        "()",
    ]
    assert seg_d2.get_cfg().MODEL.DEVICE == detectron2_cfg().MODEL.DEVICE == "cuda"
    loaded = seg_d2.load_config("configs/shapes/mask_rcnn_R18_FPN.yaml", opts)
    assert loaded.MODEL.DEVICE == "cuda" and loaded.MODEL.ROI_HEADS.NUM_CLASSES == 0
    assert "pure_load" not in DatasetCatalog.list()
    try:
        ready = seg_d2.setup_config("configs/shapes/mask_rcnn_R18_FPN.yaml", opts)
        assert "pure_load" in DatasetCatalog.list()
        assert ready.MODEL.DEVICE == ("cuda" if torch.cuda.is_available() else "cpu")
        assert ready.MODEL.ROI_HEADS.NUM_CLASSES == 2
    finally:
        unregister("pure_load")


def test_model_zoo_mask_rcnn_trains_one_step_with_finite_losses():
    cfg = seg_d2.load_config(
        "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml",
        [
            "MODEL.WEIGHTS",
            "",
            "MODEL.ROI_HEADS.NUM_CLASSES",
            "3",
            "MODEL.DEVICE",
            "cpu",
            "DATASETS.TRAIN",
            "()",
            "DATASETS.TEST",
            "()",
        ],
    )
    model = build_model(cfg)
    before = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    trainer = SimpleTrainer(
        model, itertools.repeat(_one_image_batch()), build_optimizer(cfg, model)
    )
    with EventStorage(0) as storage:
        trainer.iter = 0
        trainer.run_step()
    losses = {k: v.median(1) for k, v in storage.histories().items() if k.startswith("loss")}
    assert {"loss_cls", "loss_box_reg", "loss_mask", "loss_rpn_cls", "loss_rpn_loc"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values())
    changed = [
        name
        for name, p in model.named_parameters()
        if name in before and not torch.equal(p, before[name])
    ]
    assert any("mask_head" in name for name in changed)

    model.eval()
    with torch.no_grad():
        (output,) = model([{k: v for k, v in _one_image_batch()[0].items() if k != "instances"}])
    assert output["instances"].image_size == (96, 128)


def test_unknown_config_file_is_named():
    from seg_d2.errors import ConfigError

    import pytest

    with pytest.raises(ConfigError, match="no/such.yaml"):
        seg_d2.load_config("no/such.yaml")
