"""Every shipped config loads, inherits its base and builds its model."""
import glob
import os

import pytest
from detectron2.modeling import build_model

import seg_d2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "**", "*.yaml"), recursive=True))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_config_loads_and_builds(path):
    cfg = seg_d2.load_config(path, ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu"])
    model = build_model(cfg)
    assert type(model).__name__ == cfg.MODEL.META_ARCHITECTURE
    if cfg.MODEL.MASK_ON:
        assert type(model.roi_heads.mask_head).__name__ == cfg.MODEL.ROI_MASK_HEAD.NAME


def test_variants_differ_from_their_base_only_in_what_they_name():
    base = seg_d2.load_config(os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml"))
    d2_head = seg_d2.load_config(os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN_d2_head.yaml"))
    assert d2_head.MODEL.ROI_MASK_HEAD.NAME == "MaskRCNNConvUpsampleHead"
    d2_head.MODEL.ROI_MASK_HEAD.NAME = base.MODEL.ROI_MASK_HEAD.NAME
    d2_head.OUTPUT_DIR = base.OUTPUT_DIR
    assert d2_head == base
