"""Python configs generated from their YAML twins when loaded.

The YAML file holds every value; this module arranges them as the LazyCall trees of
detectron2's Python configs (the model as objects one can replace or edit, e.g.
``model.roi_heads.mask_head = L(MyHead)(...)``), each value taken from the YAML config as
seg_d2's Trainer takes it. So a value is written once, and the two kinds of config cannot
drift apart."""

import os

from seg_d2.config_setup import YamlConfig, load_config

from .data import dataloader
from .mask_rcnn import mask_rcnn, semantic_fpn
from .optim import optimizer
from .schedules import lr_multiplier
from .semantic import smp_segmentor, unet
from .train import train

MODELS = {
    ("GeneralizedRCNN", "build_resnet_fpn_backbone"): mask_rcnn,
    ("PanopticFPN", "build_resnet_fpn_backbone"): mask_rcnn,
    ("SemanticSegmentor", "build_resnet_fpn_backbone"): semantic_fpn,
    ("SemanticSegmentor", "UNetEncoder"): unet,
    ("SemanticSegmentor", "SMPModel"): smp_segmentor,
}


def evaluation_options(cfg):
    """``TEST.AUG`` and ``TEST.SLIDING_WINDOW``, which evaluation and prediction apply."""
    aug, window = cfg.TEST.AUG, cfg.TEST.SLIDING_WINDOW
    return dict(
        aug=dict(
            enabled=aug.ENABLED,
            min_sizes=list(aug.MIN_SIZES),
            max_size=aug.MAX_SIZE,
            flip=aug.FLIP,
        ),
        sliding_window=dict(size=window.SIZE, stride=window.STRIDE),
    )


ENTRIES = ("model", "dataloader", "optimizer", "lr_multiplier", "train", "test", "datasets")


def python_twin(twin_file, yaml_name):
    """The ``ENTRIES`` of the Python config ``twin_file`` (its ``__file__``), in that order,
    from the YAML config ``yaml_name`` beside it."""
    path = os.path.join(os.path.dirname(twin_file), yaml_name)
    cfg = load_config(path, kind=YamlConfig)
    kind = (cfg.MODEL.META_ARCHITECTURE, cfg.MODEL.BACKBONE.NAME)
    if kind not in MODELS:
        raise NotImplementedError(
            f"{path}: no Python twin for MODEL.META_ARCHITECTURE {kind[0]!r} with "
            f"MODEL.BACKBONE.NAME {kind[1]!r}; use the YAML config"
        )
    entries = dict(
        model=MODELS[kind](cfg),
        dataloader=dataloader(cfg),
        optimizer=optimizer(cfg),
        lr_multiplier=lr_multiplier(cfg),
        train=train(cfg),
        test=evaluation_options(cfg),
        datasets=dict(coco_format=list(cfg.DATASETS.COCO_FORMAT)),
    )
    return tuple(entries[name] for name in ENTRIES)
