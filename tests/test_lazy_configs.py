"""Python (LazyConfig) configs: each YAML config's ``.py`` twin builds the same model
(same modules, parameter names and shapes, and with the same weights the same outputs),
the same learning-rate schedule and test resize; tools/train_net.py trains and
evaluates from one, and the Predictor runs its weights."""

import ast
import glob
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import types

from seg_d2 import Predictor, load_config
from seg_d2.config_setup import is_lazy_config, settings_of, setup_config
from seg_d2.engine import Trainer
from seg_d2.engine.lazy_training import (
    best_and_early_stopping_hooks,
    build_lazy_model,
    build_lazy_train_loader,
)
from seg_d2.errors import ConfigError
from seg_d2.modeling.sliding_window import SlidingWindowSemanticSegmentor
from seg_d2.modeling.test_time_augmentation import SemanticSegmentorWithTTA

import numpy as np
import pytest
import torch
from detectron2.config import instantiate
from detectron2.data import transforms as T
from detectron2.solver import build_lr_scheduler
from helpers import REPO, python_config_overrides
from omegaconf import OmegaConf

TWINS = {
    "configs/finetune/nuclei_mask_rcnn_R18_FPN_imagenet.yaml": (
        "configs/finetune/nuclei_mask_rcnn_R18_FPN_imagenet.py"
    ),
    "configs/finetune/nuclei_smp_unet_R18_imagenet.yaml": (
        "configs/finetune/nuclei_smp_unet_R18_imagenet.py"
    ),
    "configs/finetune/mask_rcnn_R50_FPN_torchvision_coco.yaml": (
        "configs/finetune/mask_rcnn_R50_FPN_torchvision_coco.py"
    ),
    "configs/coco/mask_rcnn_R50_FPN_torchvision.yaml": (
        "configs/coco/mask_rcnn_R50_FPN_torchvision.py"
    ),
    "configs/finetune/nuclei_mask_rcnn_R18_FPN.yaml": (
        "configs/finetune/nuclei_mask_rcnn_R18_FPN.py"
    ),
    "configs/shapes/Base-MaskRCNN-R18-FPN.yaml": "configs/shapes/base_mask_rcnn_R18_FPN.py",
    "configs/shapes/mask_rcnn_R18_FPN.yaml": "configs/shapes/mask_rcnn_R18_FPN.py",
    "configs/shapes/mask_rcnn_R18_FPN_56.yaml": "configs/shapes/mask_rcnn_R18_FPN_56.py",
    "configs/shapes/mask_rcnn_R18_FPN_d2_head.yaml": "configs/shapes/mask_rcnn_R18_FPN_d2_head.py",
    "configs/shapes/panoptic_fpn_R18.yaml": "configs/shapes/panoptic_fpn_R18.py",
    "configs/shapes/Base-UNet.yaml": "configs/shapes/base_unet.py",
    "configs/shapes/unet.yaml": "configs/shapes/unet.py",
    "configs/shapes/unet_ce.yaml": "configs/shapes/unet_ce.py",
    "configs/shapes/faster_rcnn_R18_FPN.yaml": "configs/shapes/faster_rcnn_R18_FPN.py",
    "configs/shapes/semantic_fpn_R18.yaml": "configs/shapes/semantic_fpn_R18.py",
    "configs/shapes/Base-SMP.yaml": "configs/shapes/base_smp.py",
    "configs/shapes/deeplabv3plus_R18.yaml": "configs/shapes/deeplabv3plus_R18.py",
    "configs/shapes/pspnet_R18.yaml": "configs/shapes/pspnet_R18.py",
    "configs/shapes/fpn_R18.yaml": "configs/shapes/fpn_R18.py",
    "configs/shapes/segformer_mit_b0.yaml": "configs/shapes/segformer_mit_b0.py",
    "configs/shapes/hrnet_w18.yaml": "configs/shapes/hrnet_w18.py",
    "configs/nuclei/mask_rcnn_R18_FPN.yaml": "configs/nuclei/mask_rcnn_R18_FPN.py",
    "configs/nuclei/unet.yaml": "configs/nuclei/unet.py",
    "configs/coco/Base-MaskRCNN-R50-FPN.yaml": "configs/coco/base_mask_rcnn_R50_FPN.py",
    "configs/coco/mask_rcnn_R50_FPN_1x.yaml": "configs/coco/mask_rcnn_R50_FPN_1x.py",
    "configs/coco/mask_rcnn_R50_FPN_1x_56.yaml": "configs/coco/mask_rcnn_R50_FPN_1x_56.py",
    "configs/ade20k/Base-UNet.yaml": "configs/ade20k/base_unet.py",
    "configs/ade20k/unet_ce_dice.yaml": "configs/ade20k/unet_ce_dice.py",
    "configs/ade20k/Base-SMP.yaml": "configs/ade20k/base_smp.py",
    "configs/ade20k/deeplabv3plus_R50.yaml": "configs/ade20k/deeplabv3plus_R50.py",
    "configs/ade20k/pspnet_R50.yaml": "configs/ade20k/pspnet_R50.py",
    "configs/ade20k/fpn_R50.yaml": "configs/ade20k/fpn_R50.py",
    "configs/ade20k/segformer_mit_b2.yaml": "configs/ade20k/segformer_mit_b2.py",
    "configs/ade20k/hrnet_w18.yaml": "configs/ade20k/hrnet_w18.py",
    "configs/ade20k/semantic_fpn_R50.yaml": "configs/ade20k/semantic_fpn_R50.py",
    "configs/coco/faster_rcnn_R50_FPN_1x.yaml": "configs/coco/faster_rcnn_R50_FPN_1x.py",
}
THINGS, STUFF = 4, 3
REPO_PATH = pathlib.Path(REPO)
TWIN_ENTRIES = ["model", "dataloader", "optimizer", "lr_multiplier", "train", "test", "datasets"]


def test_every_yaml_config_has_a_python_twin():
    yaml_configs = sorted(
        os.path.relpath(path, REPO) for path in glob.glob(os.path.join(REPO, "configs/*/*.yaml"))
    )
    assert yaml_configs == sorted(TWINS)
    assert all(os.path.isfile(os.path.join(REPO, twin)) for twin in TWINS.values())


def _yaml_config(path):
    return load_config(
        os.path.join(REPO, path),
        [
            "MODEL.DEVICE",
            "cpu",
            "MODEL.ROI_HEADS.NUM_CLASSES",
            str(THINGS),
            "MODEL.SEM_SEG_HEAD.NUM_CLASSES",
            str(STUFF),
        ],
    )


def _python_config(path):
    cfg = load_config(os.path.join(REPO, path), ["train.device=cpu"])
    for head, count in (("roi_heads", THINGS), ("sem_seg_head", STUFF)):
        if head in cfg.model:
            cfg.model[head].num_classes = count
    return cfg


def _module_types(model):
    return {name: type(module).__name__ for name, module in model.named_modules()}


def _same_outputs(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same_outputs(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same_outputs(x, y)
    elif isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b)
    elif hasattr(a, "get_fields"):
        _same_outputs(a.get_fields(), b.get_fields())
    elif hasattr(a, "tensor"):
        torch.testing.assert_close(a.tensor, b.tensor)
    else:
        assert a == b


@pytest.mark.parametrize("yaml_path", sorted(TWINS))
def test_python_twin_builds_the_same_model(yaml_path):
    torch.manual_seed(0)
    yaml_model = Trainer.build_model(_yaml_config(yaml_path)).eval()
    python_model = build_lazy_model(_python_config(TWINS[yaml_path])).eval()
    assert _module_types(python_model) == _module_types(yaml_model)
    shapes = {name: value.shape for name, value in yaml_model.state_dict().items()}
    assert {name: value.shape for name, value in python_model.state_dict().items()} == shapes
    # Same weights, same image: the same detections, logits or segments, which also
    # compares what has no weights (anchors, poolers, thresholds, test sizes).
    if hasattr(yaml_model, "proposal_generator"):  # training's proposal counts too
        for counts in ("pre_nms_topk", "post_nms_topk"):
            assert getattr(python_model.proposal_generator, counts) == getattr(
                yaml_model.proposal_generator, counts
            ), counts
    python_model.load_state_dict(yaml_model.state_dict())
    image = torch.randint(0, 256, (3, 96, 128), generator=torch.Generator().manual_seed(1))
    inputs = [{"image": image.float(), "height": 96, "width": 128}]
    with torch.no_grad():
        _same_outputs(python_model(inputs), yaml_model(inputs))


@pytest.mark.parametrize("yaml_path", sorted(TWINS))
def test_python_twin_has_the_same_schedule_data_and_training(yaml_path):
    yaml_cfg, python_cfg = _yaml_config(yaml_path), _python_config(TWINS[yaml_path])
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    yaml_schedule = build_lr_scheduler(yaml_cfg, optimizer)
    python_schedule = instantiate(python_cfg.lr_multiplier)
    max_iter = yaml_cfg.SOLVER.MAX_ITER
    assert python_cfg.train.max_iter == max_iter
    for it in sorted(
        {0, 1, 10, max_iter // 3, max_iter // 2, max_iter - 1, *yaml_cfg.SOLVER.STEPS}
    ):
        assert python_schedule(it / max_iter) == pytest.approx(
            yaml_schedule._multiplier(it / max_iter), rel=1e-6
        ), it
    loader = python_cfg.dataloader
    assert loader.train.total_batch_size == yaml_cfg.SOLVER.IMS_PER_BATCH
    augmentations = loader.train.mapper.augmentations
    resize = next(a for a in augmentations if a._target_ is T.ResizeShortestEdge)
    assert tuple(resize.short_edge_length) == tuple(yaml_cfg.INPUT.MIN_SIZE_TRAIN)
    assert resize.max_size == yaml_cfg.INPUT.MAX_SIZE_TRAIN
    extras = len(yaml_cfg.INPUT.EXTRA_AUGMENTATIONS) + yaml_cfg.INPUT.CROP.ENABLED
    assert len(augmentations) == 2 + extras  # resize and flip, then the extras
    assert list(loader.train.dataset.names) == list(yaml_cfg.DATASETS.TRAIN)
    assert loader.test.dataset.names == yaml_cfg.DATASETS.TEST[0]
    assert loader.test.mapper.augmentations[0].short_edge_length == yaml_cfg.INPUT.MIN_SIZE_TEST
    assert python_cfg.optimizer.lr == yaml_cfg.SOLVER.BASE_LR
    assert python_cfg.train.checkpointer.period == yaml_cfg.SOLVER.CHECKPOINT_PERIOD
    assert python_cfg.train.eval_period == yaml_cfg.TEST.EVAL_PERIOD
    assert python_cfg.train.amp.enabled == yaml_cfg.SOLVER.AMP.ENABLED
    assert python_cfg.train.output_dir == yaml_cfg.OUTPUT_DIR


def test_python_config_is_told_from_a_yaml_one():
    assert is_lazy_config("configs/shapes/unet.py")
    assert not is_lazy_config("configs/shapes/unet.yaml")
    assert is_lazy_config(load_config(os.path.join(REPO, "configs/shapes/unet.py")))


def test_mistyped_override_key_is_named_with_the_nearest_one():
    with pytest.raises(ConfigError, match=r"train\.max_iters; did you mean train\.max_iter\?"):
        load_config(os.path.join(REPO, "configs/shapes/unet.py"), ["train.max_iters=3"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(os.path.join(REPO, "configs/shapes/unet.py"), ["SOLVER.MAX_ITER", "3"])


def test_number_of_classes_comes_from_the_data(tiny_val):
    cfg = setup_config(
        os.path.join(REPO, "configs/shapes/panoptic_fpn_R18.py"),
        [f"dataloader.train.dataset.names={tiny_val}_panoptic_separated"],
    )
    assert cfg.model.roi_heads.num_classes == 4  # circle, triangle, square, star
    assert cfg.model.sem_seg_head.num_classes == 3  # things, sky, ground
    assert cfg.train.device == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="model.roi_heads.num_classes is 7 but dataset"):
        setup_config(
            os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.py"),
            [f"dataloader.train.dataset.names={tiny_val}", "model.roi_heads.num_classes=7"],
        )


@pytest.mark.slow
def test_train_evaluate_and_predict_from_a_python_config(tiny_shapes, tmp_path):
    data = tiny_shapes
    config = os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.py")
    overrides = [
        *python_config_overrides(data, tmp_path),
        "optimizer.lr=0.01",
        "train.max_iter=8",
        "train.eval_period=8",
        "train.checkpointer.period=4",
    ]
    command = [sys.executable, os.path.join(REPO, "tools/train_net.py"), "--config-file", config]
    run = subprocess.run([*command, *overrides], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert {"bbox", "segm"} <= set(results)
    assert (tmp_path / "model_0000003.pth").exists() and (tmp_path / "model_final.pth").exists()
    assert (tmp_path / "last_checkpoint").read_text() == "model_final.pth"
    assert [m["iteration"] for m in _metrics(tmp_path) if "total_loss" in m][-1] == 7

    weights = f"train.init_checkpoint={tmp_path / 'model_final.pth'}"
    evaluated = tmp_path / "evaluated"
    run = subprocess.run(
        [*command, "--eval-only", *overrides, weights, f"train.output_dir={evaluated}"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads((evaluated / "results.json").read_text()) == results

    predictor = Predictor.from_config_file(config, str(tmp_path / "model_final.pth"), overrides)
    assert predictor.metadata.name == "tiny_val"
    image = np.zeros((120, 100, 3), np.uint8)
    output = predictor(image, "RGB")
    assert output["instances"].image_size == (120, 100)


def _metrics(folder):
    with open(folder / "metrics.json") as f:
        return [json.loads(line) for line in f]


def test_a_python_config_of_detectrons_model_zoo_builds_its_model():
    cfg = load_config("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.py", ["train.device=cpu"])
    model = build_lazy_model(cfg)
    assert type(model).__name__ == "GeneralizedRCNN"
    assert model.roi_heads.num_classes == 80
    with pytest.raises(ConfigError, match="neither a file nor in detectron2's model zoo"):
        load_config("COCO-InstanceSegmentation/no_such_config.py")


def _twin_call(path):
    """The YAML name of a twin file that is a docstring, the generator's import and one call
    of it, and nothing else; None otherwise."""
    body = ast.parse((REPO_PATH / path).read_text()).body
    if len(body) != 3 or not isinstance(body[0], ast.Expr):
        return None
    imported, assigned = body[1], body[2]
    call = assigned.value if isinstance(assigned, ast.Assign) else None
    if not (
        isinstance(imported, ast.ImportFrom)
        and imported.module == "common.twin"
        and isinstance(call, ast.Call)
        and getattr(call.func, "id", None) == "python_twin"
        and ast.unparse(call.args[0]) == "__file__"
        and [target.id for target in assigned.targets[0].elts] == TWIN_ENTRIES
    ):
        return None
    return call.args[1].value


@pytest.mark.parametrize("yaml_path", sorted(TWINS))
def test_every_python_twin_is_generated_from_its_yaml_file_and_holds_no_value(yaml_path):
    assert _twin_call(TWINS[yaml_path]) == os.path.basename(yaml_path)
    assert os.path.dirname(TWINS[yaml_path]) == os.path.dirname(yaml_path)


CHANGED = {
    "configs/shapes/unet.yaml": (
        ["MODEL.UNET.BASE_CHANNELS", "8", "MODEL.SEM_SEG_HEAD.DICE_LOSS_WEIGHT", "0.25"],
        {
            "model.backbone.base_channels": 8,
            "model.sem_seg_head.loss.dice_weight": 0.25,
        },
    ),
    "configs/nuclei/mask_rcnn_R18_FPN.yaml": (
        [
            "MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT",
            "0.5",
            "MODEL.RPN.POST_NMS_TOPK_TEST",
            "300",
            "MODEL.ANCHOR_GENERATOR.SIZES",
            "[[4], [8], [16], [32], [64]]",
            "TEST.DETECTIONS_PER_IMAGE",
            "123",
        ],
        {
            "model.roi_heads.mask_head.dice_weight": 0.5,
            "model.proposal_generator.post_nms_topk": [500, 300],
            "model.proposal_generator.anchor_generator.sizes": [[4], [8], [16], [32], [64]],
            "model.roi_heads.box_predictor.test_topk_per_image": 123,
            "dataloader.evaluator.max_dets_per_image": 123,
        },
    ),
}
CHANGED_EVERYWHERE = [
    "SOLVER.BASE_LR",
    "0.005",
    "SOLVER.MAX_ITER",
    "77",
    "INPUT.MIN_SIZE_TEST",
    "96",
    "TEST.AUG.ENABLED",
    "True",
    "TEST.SLIDING_WINDOW.SIZE",
    "64",
    "DATALOADER.NUM_WORKERS",
    "3",
    "OUTPUT_DIR",
    "output/changed",
]


@pytest.mark.parametrize("yaml_path", sorted(CHANGED))
def test_a_value_changed_in_a_yaml_file_reaches_its_python_twin(yaml_path, tmp_path):
    import yaml

    shutil.copytree(REPO_PATH / "configs/common", tmp_path / "configs/common")
    mine = tmp_path / "configs/mine"
    mine.mkdir()
    words, expected = CHANGED[yaml_path]
    words = words + CHANGED_EVERYWHERE
    changed = {"_BASE_": str(REPO_PATH / yaml_path)}
    for key, value in zip(words[::2], words[1::2]):
        *parents, leaf = key.split(".")
        node = changed
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = yaml.safe_load(value)
    (mine / "changed.yaml").write_text(yaml.safe_dump(changed))
    twin_text = (REPO_PATH / TWINS[yaml_path]).read_text()
    (mine / "changed.py").write_text(
        twin_text.replace(f'"{os.path.basename(yaml_path)}"', '"changed.yaml"')
    )
    cfg = load_config(str(mine / "changed.py"))
    expected = {
        **expected,
        "optimizer.lr": 0.005,
        "train.max_iter": 77,
        "dataloader.test.mapper.augmentations.0.short_edge_length": 96,
        "test.aug.enabled": True,
        "test.sliding_window.size": 64,
        "dataloader.train.num_workers": 3,
        "train.output_dir": "output/changed",
    }
    for key, value in expected.items():
        found = OmegaConf.select(cfg, key)
        found = OmegaConf.to_object(found) if OmegaConf.is_config(found) else found
        assert found == (list(value) if isinstance(value, tuple) else value), key
    assert instantiate(cfg.lr_multiplier)(0.99) < 0.01  # the schedule of 77 iterations


def test_python_config_scales_its_learning_rate_to_its_batch():
    config = os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.py")
    cfg = load_config(config)
    assert (cfg.optimizer.lr, cfg.train.reference_batch_size) == (0.02, 4)
    cfg = load_config(config, ["dataloader.train.total_batch_size=2"])
    assert (cfg.optimizer.lr, cfg.train.reference_batch_size) == (0.01, 2)
    cfg = load_config(
        config, ["dataloader.train.total_batch_size=4", "train.accumulate_grad_steps=3"]
    )
    assert cfg.optimizer.lr == pytest.approx(0.06)
    cfg = load_config(
        config, ["dataloader.train.total_batch_size=2", "train.reference_batch_size=0"]
    )
    assert cfg.optimizer.lr == 0.02  # no reference: the rate as written


@pytest.mark.parametrize(
    "yaml_path",
    ["configs/nuclei/mask_rcnn_R18_FPN.yaml", "configs/shapes/unet.yaml"],
)
def test_python_twin_gives_evaluation_the_test_options_of_its_yaml(yaml_path):
    overrides = ["TEST.AUG.ENABLED", "True", "TEST.SLIDING_WINDOW.SIZE", "96"]
    yaml_cfg = load_config(os.path.join(REPO, yaml_path), overrides)
    python_cfg = load_config(
        os.path.join(REPO, TWINS[yaml_path]),
        ["test.aug.enabled=True", "test.sliding_window.size=96"],
    )
    view = settings_of(python_cfg).test_options()
    for key in (
        "TEST.AUG",
        "TEST.SLIDING_WINDOW",
        "TEST.DETECTIONS_PER_IMAGE",
        "MODEL.ROI_HEADS.NMS_THRESH_TEST",
        "MODEL.MASK_ON",
        "MODEL.META_ARCHITECTURE",
        "INPUT.FORMAT",
    ):
        yaml_value, python_value = yaml_cfg, view
        for part in key.split("."):
            yaml_value, python_value = yaml_value[part], python_value[part]
        assert python_value == yaml_value, key


def test_predictor_runs_a_python_config_in_windows_and_with_test_time_augmentation():
    config = os.path.join(REPO, "configs/shapes/unet.py")
    cfg = load_config(config, ["train.device=cpu", "model.sem_seg_head.num_classes=3"])
    model = build_lazy_model(cfg)
    plain = Predictor(cfg, model=model)
    assert plain.model is model
    cfg.test.sliding_window.size = 64
    windowed = Predictor(cfg, model=model)
    assert isinstance(windowed.model, SlidingWindowSemanticSegmentor)
    augmented = Predictor(cfg, model=model, test_time_augmentation=True)
    assert isinstance(augmented.model, SemanticSegmentorWithTTA)
    assert augmented.model.model is windowed.model.model or isinstance(
        augmented.model.model, SlidingWindowSemanticSegmentor
    )


def test_lazy_training_sampler_is_seeded_and_continues_past_what_was_drawn(tiny_val):
    cfg = load_config(
        os.path.join(REPO, "configs/shapes/unet.py"),
        [f"dataloader.train.dataset.names={tiny_val}_sem_seg", "train.accumulate_grad_steps=2"],
    )
    cfg.dataloader.train._target_ = "builtins.dict"  # the loader's arguments, as built

    def stream(arguments, count=64):
        return list(itertools.islice(iter(arguments["sampler"]), count))

    first = build_lazy_train_loader(cfg)
    assert stream(first) == stream(build_lazy_train_loader(cfg))  # seeded
    cfg.train.seed = 1
    assert stream(build_lazy_train_loader(cfg)) != stream(first)
    cfg.train.seed = 0
    resumed = build_lazy_train_loader(cfg, start_iter=2)
    drawn = 2 * cfg.dataloader.train.total_batch_size * 2  # 2 iterations of 2 parts
    assert stream(resumed, 64 - drawn) == stream(first)[drawn:]


def test_lazy_training_keeps_the_best_checkpoint_and_stops_early_as_configured(tmp_path):
    cfg = load_config(
        os.path.join(REPO, "configs/shapes/unet.py"),
        [f"train.output_dir={tmp_path}", "train.eval_period=10", "train.patience=2"],
    )
    checkpointer = types.SimpleNamespace(model=torch.nn.Linear(1, 1))
    best, stopping = best_and_early_stopping_hooks(cfg, checkpointer)
    assert best._val_metric == "sem_seg/mIoU" and best._period == 10
    assert best._checkpointer.save_dir == str(tmp_path / "best")
    assert (stopping._metric, stopping._patience, stopping._period) == ("sem_seg/mIoU", 2, 10)
    cfg.train.patience = 0
    assert [type(hook) for hook in best_and_early_stopping_hooks(cfg, checkpointer)] == [type(best)]
    cfg.train.eval_period = 0
    assert best_and_early_stopping_hooks(cfg, checkpointer) == []


def test_python_config_test_options_follow_its_test_entry_or_detectrons_defaults():
    from seg_d2.config import get_cfg

    defaults = get_cfg()
    zoo = load_config("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.py", ["train.device=cpu"])
    view = settings_of(zoo).test_options()  # a config without a test entry
    assert (view.TEST.AUG, view.TEST.SLIDING_WINDOW) == (
        defaults.TEST.AUG,
        defaults.TEST.SLIDING_WINDOW,
    )
    assert not view.TEST.AUG.ENABLED and view.TEST.SLIDING_WINDOW.SIZE == 0
    assert (view.MODEL.META_ARCHITECTURE, view.MODEL.MASK_ON) == ("GeneralizedRCNN", True)
    assert (view.MODEL.ROI_HEADS.NUM_CLASSES, view.TEST.DETECTIONS_PER_IMAGE) == (80, 100)
    assert view.MODEL.ROI_HEADS.NMS_THRESH_TEST == defaults.MODEL.ROI_HEADS.NMS_THRESH_TEST
    assert view.INPUT.FORMAT == "BGR"
    zoo.model.roi_heads.box_predictor.test_nms_thresh = 0.3
    zoo.model._target_ = "detectron2.modeling.meta_arch.rcnn.GeneralizedRCNN"  # by name
    view = settings_of(zoo).test_options()
    assert (view.MODEL.ROI_HEADS.NMS_THRESH_TEST, view.MODEL.META_ARCHITECTURE) == (
        0.3,
        "GeneralizedRCNN",
    )
    twin = load_config(
        os.path.join(REPO, "configs/shapes/unet.py"),
        [
            "test.aug.flip=False",
            "test.aug.max_size=300",
            "test.aug.min_sizes=[64,96]",
            "test.sliding_window.stride=40",
        ],
    )
    view = settings_of(twin).test_options()
    assert (view.TEST.AUG.FLIP, view.TEST.AUG.MAX_SIZE, view.TEST.AUG.MIN_SIZES) == (
        False,
        300,
        (64, 96),
    )
    assert view.TEST.SLIDING_WINDOW.STRIDE == 40
    assert (view.MODEL.META_ARCHITECTURE, view.MODEL.MASK_ON) == ("SemanticSegmentor", False)
