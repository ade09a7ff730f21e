"""Every shipped config loads, inherits its base and builds its model."""

import glob
import json
import os

import seg_d2

import pytest
from detectron2.data import DatasetCatalog
from detectron2.modeling import build_model
from helpers import unregister
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "**", "*.yaml"), recursive=True))


def _stand_in_datasets(path, tmp_path):
    """Overrides that point each DATASETS.COCO_FORMAT entry whose JSON is not here (the
    nuclei are not shipped) at a one-image dataset with one class."""
    cfg = seg_d2.get_cfg()
    cfg.merge_from_file(path)
    entries = [
        entry
        for entry in cfg.DATASETS.COCO_FORMAT
        if not os.path.isfile(entry.split("=", 1)[1].rsplit(":", 1)[0])
    ]
    if not entries:
        return []
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "tiny.json").write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 8}],
                "annotations": [
                    {
                        "id": 1,
                        "image_id": 1,
                        "category_id": 1,
                        "iscrowd": 0,
                        "area": 16,
                        "bbox": [2, 2, 4, 4],
                        "segmentation": [[2, 2, 6, 2, 6, 6, 2, 6]],
                    }
                ],
                "categories": [{"id": 1, "name": "nucleus"}],
            }
        )
    )
    names = [entry.split("=", 1)[0] for entry in entries]
    for name in names:
        if name in DatasetCatalog.list():
            unregister(name)
    return [
        "DATASETS.COCO_FORMAT",
        str([f"{name}={tmp_path}/tiny.json:{tmp_path}" for name in names]),
    ]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_config_loads_and_builds(path, tmp_path):
    cfg = seg_d2.setup_config(
        path, ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", *_stand_in_datasets(path, tmp_path)]
    )
    model = build_model(cfg)
    assert type(model).__name__ == cfg.MODEL.META_ARCHITECTURE
    if cfg.MODEL.MASK_ON:
        assert type(model.roi_heads.mask_head).__name__ == cfg.MODEL.ROI_MASK_HEAD.NAME


def test_variants_differ_from_their_base_only_in_what_they_name():
    base = seg_d2.setup_config(os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"))
    d2_head = seg_d2.setup_config(
        os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN_d2_head.yaml")
    )
    assert d2_head.MODEL.ROI_MASK_HEAD.NAME == "MaskRCNNConvUpsampleHead"
    d2_head.MODEL.ROI_MASK_HEAD.NAME = base.MODEL.ROI_MASK_HEAD.NAME
    d2_head.OUTPUT_DIR = base.OUTPUT_DIR
    assert d2_head == base


def test_the_demo_and_the_nuclei_train_with_the_same_stability_settings():
    """The defaults a user's own data starts from (warm-up, clipping, the rate for the
    batch) are the demo's: the nuclei config, proven on crowded images, overrides none."""

    def solver(name):
        cfg = seg_d2.get_cfg()
        cfg.merge_from_file(os.path.join(REPO, "configs", name))
        return cfg.SOLVER

    demo, nuclei = solver("shapes/mask_rcnn_R18_FPN.yaml"), solver("nuclei/mask_rcnn_R18_FPN.yaml")
    assert demo.CLIP_GRADIENTS.ENABLED and demo.REFERENCE_IMS_PER_BATCH == demo.IMS_PER_BATCH
    for key in (
        "BASE_LR",
        "IMS_PER_BATCH",
        "REFERENCE_IMS_PER_BATCH",
        "WARMUP_ITERS",
        "WARMUP_FACTOR",
        "CLIP_GRADIENTS",
        "OPTIMIZER",
        "WEIGHT_DECAY",
        "MOMENTUM",
    ):
        assert nuclei[key] == demo[key], key
