"""Loading a config: numbers of classes from the data, the learning rate scaled to the
batch, and mistakes told as one message."""

import logging
import os
import subprocess
import sys

from seg_d2.config_setup import setup_config
from seg_d2.engine.trainer import _told_errors_logged_without_traceback
from seg_d2.errors import ConfigError

import pytest
from helpers import REPO

MASK_RCNN = os.path.join(REPO, "configs/shapes/mask_rcnn_R18_FPN.yaml")
UNET = os.path.join(REPO, "configs/shapes/unet.yaml")
PANOPTIC = os.path.join(REPO, "configs/shapes/panoptic_fpn_R18.yaml")


def test_numbers_of_classes_come_from_the_training_dataset():
    # shapes: 4 thing classes, 2 stuff classes (sky, ground).
    assert setup_config(MASK_RCNN).MODEL.ROI_HEADS.NUM_CLASSES == 4
    assert setup_config(UNET).MODEL.SEM_SEG_HEAD.NUM_CLASSES == 6  # things + stuff
    panoptic = setup_config(PANOPTIC)
    assert (panoptic.MODEL.ROI_HEADS.NUM_CLASSES, panoptic.MODEL.SEM_SEG_HEAD.NUM_CLASSES) == (
        4,
        3,
    )  # 1 + stuff


def test_a_number_of_classes_that_disagrees_with_the_data_names_both_and_the_dataset():
    with pytest.raises(
        ConfigError, match=r"MODEL.ROI_HEADS.NUM_CLASSES is 3 but dataset 'shapes_train' has 4"
    ):
        setup_config(MASK_RCNN, ["MODEL.ROI_HEADS.NUM_CLASSES", "3"])
    assert (
        setup_config(MASK_RCNN, ["MODEL.ROI_HEADS.NUM_CLASSES", "4"]).MODEL.ROI_HEADS.NUM_CLASSES
        == 4
    )


def test_without_a_dataset_the_number_of_classes_must_be_given():
    with pytest.raises(ConfigError, match=r"SEM_SEG_HEAD.NUM_CLASSES is 0 \(from the data\)"):
        setup_config(UNET, ["DATASETS.TRAIN", "()", "DATASETS.TEST", "()"])
    given = setup_config(
        UNET, ["DATASETS.TRAIN", "()", "DATASETS.TEST", "()", "MODEL.SEM_SEG_HEAD.NUM_CLASSES", "2"]
    )
    assert given.MODEL.SEM_SEG_HEAD.NUM_CLASSES == 2


def test_the_learning_rate_follows_the_batch_it_was_chosen_for(tmp_path):
    default = setup_config(MASK_RCNN).SOLVER
    assert (default.IMS_PER_BATCH, default.REFERENCE_IMS_PER_BATCH, default.BASE_LR) == (4, 4, 0.02)
    doubled = setup_config(MASK_RCNN, ["SOLVER.IMS_PER_BATCH", "8"])
    assert doubled.SOLVER.BASE_LR == pytest.approx(0.04)
    # The config a run saves is not scaled again when loaded (--eval-only, --resume).
    saved = tmp_path / "config.yaml"
    saved.write_text(doubled.dump())
    assert setup_config(str(saved)).SOLVER.BASE_LR == pytest.approx(0.04)
    unscaled = setup_config(
        MASK_RCNN, ["SOLVER.IMS_PER_BATCH", "8", "SOLVER.REFERENCE_IMS_PER_BATCH", "0"]
    )
    assert unscaled.SOLVER.BASE_LR == pytest.approx(0.02)


def test_an_unknown_key_names_the_nearest_valid_one():
    with pytest.raises(
        ConfigError, match=r"unknown config key SOLVER.MAX_ITERS; did you mean SOLVER.MAX_ITER\?"
    ):
        setup_config(MASK_RCNN, ["SOLVER.MAX_ITERS", "10"])


def test_a_renamed_key_is_rejected_with_its_new_name(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"override: config key MODEL.SEM_SEG_HEAD.DICE_WEIGHT is now "
        r"MODEL.SEM_SEG_HEAD.DICE_LOSS_WEIGHT$",
    ):
        setup_config(UNET, ["MODEL.SEM_SEG_HEAD.DICE_WEIGHT", "1.0"])
    old = tmp_path / "old.yaml"
    old.write_text(f"_BASE_: {UNET}\nSOLVER:\n  BEST_CHECKPOINT_METRIC: sem_seg/mIoU\n")
    with pytest.raises(
        ConfigError,
        match=r"old.yaml: config key SOLVER.BEST_CHECKPOINT_METRIC is now "
        r"TEST.BEST_CHECKPOINT_METRIC$",
    ):
        setup_config(str(old))
    with pytest.raises(
        ConfigError,
        match=r"CLASS_WEIGHTING is now MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS \(CLASS_WEIGHTING "
        r"inverse_frequency is CLASS_WEIGHTS \[\"inverse_frequency\"\]\)$",
    ):
        setup_config(UNET, ["MODEL.SEM_SEG_HEAD.CLASS_WEIGHTING", "inverse_frequency"])
    with pytest.raises(
        ConfigError, match=r"SOLVER.CPU_BF16_AUTOCAST is now SOLVER.AMP.ENABLED \(on a CPU"
    ):
        setup_config(UNET, ["SOLVER.CPU_BF16_AUTOCAST", "True"])
    assert (
        setup_config(
            UNET, ["MODEL.SEM_SEG_HEAD.DICE_LOSS_WEIGHT", "0.5"]
        ).MODEL.SEM_SEG_HEAD.DICE_LOSS_WEIGHT
        == 0.5
    )


def test_an_unknown_key_in_a_file_is_named_with_the_file(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(f'_BASE_: "{MASK_RCNN}"\nSOLVER:\n  BASE_LRR: 0.1\n')
    with pytest.raises(
        ConfigError,
        match=r"bad.yaml: unknown config key SOLVER.BASE_LRR; did you mean SOLVER.BASE_LR",
    ):
        setup_config(str(config))


def test_missing_weights_and_config_files_are_named():
    with pytest.raises(ConfigError, match=r"MODEL.WEIGHTS: no such file 'no/such.pth'"):
        setup_config(MASK_RCNN, ["MODEL.WEIGHTS", "no/such.pth"])
    with pytest.raises(
        ConfigError, match=r"'no/such.yaml' is neither a file nor in detectron2's model zoo"
    ):
        setup_config("no/such.yaml")


def test_train_net_ends_a_config_mistake_with_one_line():
    run = subprocess.run(
        [sys.executable, "tools/train_net.py", "--config-file", MASK_RCNN, "SOLVER.MAX_ITERS", "5"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "error: command-line override: unknown config key SOLVER.MAX_ITERS; did you mean "
        "SOLVER.MAX_ITER?"
    )
    assert "Traceback" not in run.stderr


def test_a_diverged_loss_is_logged_without_its_traceback(caplog, monkeypatch):
    monkeypatch.delenv("SEG_D2_TRACEBACK", raising=False)
    logger = logging.getLogger("detectron2.engine.train_loop")
    with _told_errors_logged_without_traceback():
        for error in (FloatingPointError("Loss became infinite or NaN"), KeyError("other")):
            try:
                raise error
            except Exception:
                logger.exception("Exception during training:")
    diverged, other = caplog.records[-2:]
    assert diverged.exc_info is None and "SEG_D2_TRACEBACK=1" in diverged.getMessage()
    assert other.exc_info is not None  # any other error keeps its traceback
    monkeypatch.setenv("SEG_D2_TRACEBACK", "1")
    with _told_errors_logged_without_traceback():
        try:
            raise FloatingPointError("again")
        except FloatingPointError:
            logger.exception("Exception during training:")
    assert caplog.records[-1].exc_info is not None


def test_a_yaml_tag_that_would_run_code_is_an_error_naming_the_file(tmp_path):
    """fvcore falls back to ``yaml.unsafe_load`` for such a tag; seg_d2 never does, also
    for a tag in a file the config inherits from."""
    from seg_d2.config_setup import load_config

    marker = tmp_path / "touched"
    base = tmp_path / "base.yaml"
    base.write_text(f"_BASE_: {UNET}\nSOLVER: !!python/object/apply:os.system ['touch {marker}']\n")
    child = tmp_path / "child.yaml"
    child.write_text("_BASE_: base.yaml\n")
    for config in (base, child):
        with pytest.raises(ConfigError, match=rf"{config}: cannot read it as a config .*safe"):
            load_config(str(config))
    assert not marker.exists()


def test_a_value_of_the_wrong_type_or_a_key_without_value_is_one_message():
    from seg_d2.config_setup import load_config

    with pytest.raises(
        ConfigError,
        match=r"^command-line override: SOLVER.MAX_ITER takes a value of type int \(the config "
        r"has 2100\), not 'ten'$",
    ):
        load_config(UNET, ["SOLVER.MAX_ITER", "ten"])
    with pytest.raises(
        ConfigError,
        match=r"KEY VALUE pairs, and \['SOLVER.MAX_ITER'\] has an odd number of words$",
    ):
        load_config(UNET, ["SOLVER.MAX_ITER"])
