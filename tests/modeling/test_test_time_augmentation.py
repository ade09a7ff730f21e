"""Test-time augmentation: the semantic model's averaged logits against the model run by
hand on each augmented image, Mask R-CNN's detectron2 TTA through seg_d2's mask head and
PanopticFPN's two branches against the plain models, the wrapper each model gets, and the
trainer's evaluation going through it."""

import seg_d2
from seg_d2.engine import Trainer
from seg_d2.modeling import SemanticSegmentorWithTTA, with_test_time_augmentation
from seg_d2.modeling.test_time_augmentation import PanopticFPNWithTTA

import pytest
import torch
from detectron2.engine import defaults
from detectron2.modeling import GeneralizedRCNNWithTTA, build_model
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

UNET = "configs/shapes/unet.yaml"
MASK_RCNN = "configs/shapes/mask_rcnn_R18_FPN.yaml"
PANOPTIC = "configs/shapes/panoptic_fpn_R18.yaml"


def _built(config, *opts):
    cfg = seg_d2.setup_config(config, ["MODEL.DEVICE", "cpu", *opts])
    model = build_model(cfg)
    model.eval()
    return cfg, model


def test_semantic_logits_are_averaged_over_sizes_and_flips_back_on_the_image():
    cfg, model = _built(
        UNET,
        "MODEL.UNET.BASE_CHANNELS",
        4,
        "TEST.AUG.MIN_SIZES",
        "(48, 96)",
        "TEST.AUG.MAX_SIZE",
        1000,
        "TEST.AUG.FLIP",
        True,
    )
    torch.manual_seed(0)
    image = torch.rand(3, 48, 80) * 255  # the test loader's image of a 60x100 original

    def logits(img):
        return model([{"image": img, "height": 60, "width": 100}])[0]["sem_seg"]

    with torch.no_grad():
        augmented = SemanticSegmentorWithTTA(cfg, model)(
            [{"image": image, "height": 60, "width": 100}]
        )[0]["sem_seg"]
        expected = []
        for size in ((48, 80), (96, 160)):
            resized = F.interpolate(image[None], size, mode="bilinear", align_corners=False)[0]
            expected.append(logits(resized))
            expected.append(logits(resized.flip(dims=[2])).flip(dims=[2]))
    assert augmented.shape == (cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES, 60, 100)
    torch.testing.assert_close(augmented, torch.stack(expected).mean(dim=0), rtol=0, atol=1e-4)
    # The flipped logits differ from the unflipped ones, so flipping back is what matched.
    assert not torch.allclose(expected[0], expected[1], atol=1e-3)


def _plain_and_augmented_at_one_unflipped_size(config, *opts):
    """The model's output and its TTA output when TTA runs only the plain image."""
    cfg, model = _built(
        config,
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
        0.0,
        "TEST.AUG.MIN_SIZES",
        "(96,)",
        "TEST.AUG.FLIP",
        False,
        *opts,
    )
    torch.manual_seed(0)
    inputs = [{"image": torch.rand(3, 96, 128) * 255, "height": 96, "width": 128}]
    with torch.no_grad():
        return model(inputs)[0], with_test_time_augmentation(cfg, model)(inputs)[0]


def test_mask_rcnn_with_one_unflipped_size_gives_the_plain_models_detections():
    plain, augmented = _plain_and_augmented_at_one_unflipped_size(MASK_RCNN)
    plain, augmented = plain["instances"], augmented["instances"]
    assert len(plain) > 0
    assert augmented.pred_masks.shape[1:] == (96, 128)
    # The same boxes (NMS of boxes already NMSed keeps them), in the same order by score.
    torch.testing.assert_close(augmented.scores, plain.scores)
    torch.testing.assert_close(augmented.pred_boxes.tensor, plain.pred_boxes.tensor)
    torch.testing.assert_close(augmented.pred_masks, plain.pred_masks)


def test_panoptic_fpn_with_one_unflipped_size_gives_the_plain_models_outputs():
    plain, augmented = _plain_and_augmented_at_one_unflipped_size(
        PANOPTIC, "MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH", 0.0
    )
    assert len(plain["instances"]) > 0
    torch.testing.assert_close(augmented["sem_seg"], plain["sem_seg"], rtol=0, atol=1e-5)
    torch.testing.assert_close(augmented["instances"].scores, plain["instances"].scores)
    torch.testing.assert_close(augmented["instances"].pred_masks, plain["instances"].pred_masks)
    (augmented_ids, augmented_segments), (plain_ids, plain_segments) = (
        augmented["panoptic_seg"],
        plain["panoptic_seg"],
    )
    assert torch.equal(augmented_ids, plain_ids)
    assert augmented_segments == plain_segments


@pytest.mark.parametrize(
    "config, wrapper",
    [
        (MASK_RCNN, GeneralizedRCNNWithTTA),
        (UNET, SemanticSegmentorWithTTA),
        (PANOPTIC, PanopticFPNWithTTA),
    ],
)
def test_each_model_kind_gets_its_wrapper(config, wrapper):
    cfg, model = _built(config)
    assert isinstance(with_test_time_augmentation(cfg, model), wrapper)


def test_a_model_without_test_time_augmentation_is_refused_by_name():
    cfg, _ = _built(UNET)
    with pytest.raises(NotImplementedError, match="not Linear .*TEST.AUG.ENABLED False"):
        with_test_time_augmentation(cfg, torch.nn.Linear(1, 1))


@pytest.mark.parametrize("enabled", [False, True])
def test_the_trainer_evaluates_the_augmented_model_when_enabled(monkeypatch, enabled):
    cfg, model = _built(UNET, "TEST.AUG.ENABLED", enabled)
    evaluated = []
    monkeypatch.setattr(Trainer, "build_test_loader", classmethod(lambda cls, cfg, name: []))
    monkeypatch.setattr(
        defaults, "inference_on_dataset", lambda m, loader, evaluator: evaluated.append(m) or {}
    )
    Trainer.test(cfg, model, evaluators=[object()])
    assert isinstance(evaluated[0], SemanticSegmentorWithTTA) == enabled
    assert (evaluated[0] is model) != enabled


def test_a_distributed_model_is_augmented_through_its_inner_model(single_process_group):
    cfg, model = _built(UNET)
    augmented = with_test_time_augmentation(cfg, DistributedDataParallel(model))
    assert isinstance(augmented, SemanticSegmentorWithTTA)
    assert augmented.model is model


def test_panoptic_views_keep_the_models_input_format():
    cfg, model = _built(PANOPTIC, "INPUT.FORMAT", "RGB")
    assert PanopticFPNWithTTA(cfg, model).instances.model.input_format == "RGB"
