"""segmentation_models_pytorch architectures as seg_d2 semantic models: built from
config keys, logits at the input's size, seg_d2's losses, local encoder weights, and
errors that name the key at fault."""

from seg_d2 import load_config
from seg_d2.engine import Trainer
from seg_d2.errors import ConfigError
from seg_d2.modeling import LogitsHead, SMPModel
from seg_d2.modeling.losses import SemanticSegmentationLoss

import pytest
import torch

ARCHITECTURES = {
    "configs/shapes/deeplabv3plus_R18.yaml": "DeepLabV3Plus",
    "configs/shapes/pspnet_R18.yaml": "PSPNet",
    "configs/shapes/fpn_R18.yaml": "FPN",
    "configs/shapes/segformer_mit_b0.yaml": "Segformer",
    "configs/shapes/hrnet_w18.yaml": "FPN",
}


def _model(config, *opts):
    cfg = load_config(config, ["MODEL.DEVICE", "cpu", "MODEL.SEM_SEG_HEAD.NUM_CLASSES", "6", *opts])
    return Trainer.build_model(cfg)


@pytest.mark.parametrize("config", sorted(ARCHITECTURES))
def test_each_architecture_segments_at_the_input_size(config):
    model = _model(config).eval()
    assert type(model.backbone.model).__name__ == ARCHITECTURES[config]
    image = torch.randint(0, 256, (3, 100, 90)).float()
    with torch.no_grad():
        (output,) = model([{"image": image, "height": 50, "width": 45}])
    assert output["sem_seg"].shape == (6, 50, 45)


def test_the_encoder_and_decoder_options_reach_smp():
    model = _model(
        "configs/shapes/deeplabv3plus_R18.yaml",
        "MODEL.SMP.ENCODER_DEPTH",
        "4",
    )
    assert model.backbone.size_divisibility == 16
    assert len(model.backbone.model.encoder.out_channels) == 5  # the input and 4 levels
    cfg = load_config(
        "configs/shapes/fpn_R18.yaml",
        ["MODEL.DEVICE", "cpu", "MODEL.SEM_SEG_HEAD.NUM_CLASSES", "6"],
    )
    cfg.MODEL.SMP.ARCHITECTURE_ARGS.decoder_segmentation_channels = 32
    model = Trainer.build_model(cfg)
    assert model.backbone.model.segmentation_head[0].in_channels == 32


def test_encoder_weights_are_read_from_a_local_file(tmp_path):
    trained = SMPModel(architecture="FPN", encoder="resnet18", num_classes=3)
    path = tmp_path / "encoder.pth"
    torch.save(trained.model.encoder.state_dict(), path)
    loaded = SMPModel(
        architecture="FPN", encoder="resnet18", num_classes=3, encoder_weights=str(path)
    )
    for name, value in trained.model.encoder.state_dict().items():
        assert torch.equal(loaded.model.encoder.state_dict()[name], value), name
    with pytest.raises(ConfigError, match="MODEL.SMP.ENCODER_WEIGHTS: no such file"):
        SMPModel(architecture="FPN", encoder="resnet18", num_classes=3, encoder_weights="x.pth")


def test_unknown_architecture_and_encoder_are_named():
    with pytest.raises(ConfigError, match="MODEL.SMP.ARCHITECTURE 'DeepLab' is not one of"):
        SMPModel(architecture="DeepLab", encoder="resnet18", num_classes=3)
    with pytest.raises(ConfigError, match="encoder 'resnet19'"):
        SMPModel(architecture="FPN", encoder="resnet19", num_classes=3)


def test_logits_head_gives_seg_d2s_losses_and_the_logits():
    loss = SemanticSegmentationLoss(ignore_value=255, dice_weight=1.0)
    from detectron2.layers import ShapeSpec

    head = LogitsHead({"logits": ShapeSpec(channels=3, stride=1)}, num_classes=3, loss=loss)
    assert head.ignore_value == 255
    logits = torch.randn(2, 3, 8, 8)
    targets = torch.randint(0, 3, (2, 8, 8))
    targets[0, 0, 0] = 255
    _, losses = head.train()({"logits": logits}, targets)
    expected = loss(logits, targets)
    assert losses.keys() == {"loss_sem_seg", "loss_sem_seg_dice"}
    assert all(torch.equal(losses[k], expected[k]) for k in expected)
    predictions, no_losses = head.eval()({"logits": logits})
    assert predictions is logits and no_losses == {}
    with pytest.raises(ValueError, match="4 channels for 3 classes"):
        LogitsHead({"logits": ShapeSpec(channels=4, stride=1)}, num_classes=3, loss=loss)


def test_encoder_weights_in_a_checkpoints_state_dict_and_no_pickled_code(tmp_path):
    """A checkpoint that keeps them under "state_dict" loads too; a file that would run
    pickled code on loading is refused (torch.load with weights_only)."""
    trained = SMPModel(architecture="FPN", encoder="resnet18", num_classes=3)
    path = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": trained.model.encoder.state_dict()}, path)
    loaded = SMPModel(
        architecture="FPN", encoder="resnet18", num_classes=3, encoder_weights=str(path)
    )
    name, value = next(iter(trained.model.encoder.state_dict().items()))
    assert torch.equal(loaded.model.encoder.state_dict()[name], value)
    torch.save({"state_dict": trained.model.encoder.state_dict(), "code": _Pickled()}, path)
    with pytest.raises(Exception, match="weights_only"):
        SMPModel(architecture="FPN", encoder="resnet18", num_classes=3, encoder_weights=str(path))


class _Pickled:
    """An object only a full unpickler rebuilds."""
