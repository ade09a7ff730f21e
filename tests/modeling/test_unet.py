"""U-Net encoder and decoder: feature shapes and strides, logits at the input size for
odd sizes and several depths, and the decoder on detectron2's own backbones."""

import seg_d2
from seg_d2.modeling import UNetEncoder

import pytest
import torch
from detectron2.modeling import build_backbone, build_model
from detectron2.structures import ImageList

UNET = "configs/shapes/unet.yaml"


def _unet(*opts):
    return build_model(seg_d2.setup_config(UNET, ["MODEL.DEVICE", "cpu", *opts]))


@pytest.mark.parametrize("depth", [2, 3, 5])
@pytest.mark.parametrize("downsample", ["maxpool", "conv"])
def test_encoder_features_match_their_declared_shapes(depth, downsample):
    encoder = UNetEncoder(depth=depth, base_channels=4, downsample=downsample)
    assert encoder.size_divisibility == 2**depth
    padded = ImageList.from_tensors([torch.randn(3, 97, 131)], encoder.size_divisibility).tensor
    features = encoder(padded)
    assert list(features) == [f"level{k}" for k in range(depth + 1)]
    for name, shape in encoder.output_shape().items():
        n, channels, height, width = features[name].shape
        assert channels == shape.channels == 4 * 2 ** int(name[5:])
        assert (height * shape.stride, width * shape.stride) == padded.shape[-2:]


def test_max_channels_caps_the_doubling():
    encoder = UNetEncoder(depth=4, base_channels=4, max_channels=16)
    assert [shape.channels for shape in encoder.output_shape().values()] == [4, 8, 16, 16, 16]
    features = encoder(torch.randn(1, 3, 32, 48))
    assert [f.shape[1] for f in features.values()] == [4, 8, 16, 16, 16]


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("mode", ["bilinear", "deconv", "nearest"])
def test_semantic_logits_have_the_input_size(depth, mode):
    features = [f"level{k}" for k in range(depth + 1)]
    model = _unet(
        "MODEL.UNET.DEPTH",
        depth,
        "MODEL.UNET.BASE_CHANNELS",
        4,
        "MODEL.SEM_SEG_HEAD.IN_FEATURES",
        str(features),
        "MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE",
        mode,
    )
    model.eval()
    with torch.no_grad():
        # height/width ask for the output at another size, as for a resized test image
        out = model(
            [
                {"image": torch.rand(3, 97, 131) * 255},
                {"image": torch.rand(3, 50, 61) * 255, "height": 100, "width": 122},
            ]
        )
    assert out[0]["sem_seg"].shape == (6, 97, 131)
    assert out[1]["sem_seg"].shape == (6, 100, 122)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules()) == (
        mode == "deconv"
    )


@pytest.mark.parametrize("mode, convs_per_level", [("bilinear", 3), ("nearest", 2)])
def test_the_nearest_decoder_joins_the_coarser_features_without_a_convolution(
    mode, convs_per_level
):
    head = _unet(
        "MODEL.UNET.BASE_CHANNELS", 4, "MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE", mode
    ).sem_seg_head
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == convs_per_level * len(head.fuses) + 1  # + the classifier
    coarse = torch.randn(1, 64, 3, 5)  # level4 of 4 base channels
    upsampled = head.upsamples[0](coarse)
    if mode == "nearest":
        assert torch.equal(upsampled, coarse.repeat_interleave(2, 2).repeat_interleave(2, 3))
    # the finest fusion takes the skip (4 channels) and what joins it
    assert head.fuses[-1][0].in_channels == 4 + {"bilinear": 4, "nearest": 8}[mode]


def test_an_unknown_upsampling_mode_names_the_key_and_the_choices():
    with pytest.raises(ValueError, match=r"UPSAMPLE_MODE must be one of .*'nearest'.*'bicubic'"):
        _unet("MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE", "bicubic")


def test_training_on_an_odd_size_returns_finite_losses_and_gradients():
    model = _unet("MODEL.UNET.BASE_CHANNELS", 4)
    model.train()
    labels = torch.randint(0, 6, (97, 131))
    labels[:10] = 255
    losses = model([{"image": torch.rand(3, 97, 131) * 255, "sem_seg": labels}])
    assert set(losses) == {"loss_sem_seg", "loss_sem_seg_dice"}
    sum(losses.values()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def _unet_head_on(backbone, in_features, *opts):
    """The config of a U-Net head of 3 classes on one of detectron2's backbones."""
    return seg_d2.setup_config(
        "configs/shapes/mask_rcnn_R18_FPN.yaml",
        [
            *("MODEL.DEVICE", "cpu", "MODEL.META_ARCHITECTURE", "SemanticSegmentor"),
            *("MODEL.BACKBONE.NAME", backbone, "MODEL.SEM_SEG_HEAD.NAME", "UNetHead"),
            *("MODEL.SEM_SEG_HEAD.IN_FEATURES", str(in_features)),
            *("MODEL.SEM_SEG_HEAD.NUM_CLASSES", 3, *opts),
        ],
    )


@pytest.mark.parametrize(
    "backbone, in_features, stride",
    [
        ("build_resnet_backbone", ["res2", "res3", "res4", "res5"], 4),
        ("build_resnet_fpn_backbone", ["p2", "p3", "p4", "p5"], 4),
    ],
)
def test_decoder_sits_on_detectron2_backbones(backbone, in_features, stride):
    cfg = _unet_head_on(backbone, in_features, "MODEL.SEM_SEG_HEAD.NORM", "BN")
    model = build_model(cfg).eval()
    assert model.sem_seg_head.output_stride == stride
    assert type(build_backbone(cfg)).__name__ in ("ResNet", "FPN")
    with torch.no_grad():
        out = model([{"image": torch.rand(3, 97, 131) * 255}])
    assert out[0]["sem_seg"].shape == (3, 97, 131)
    model.train()
    losses = model(
        [{"image": torch.rand(3, 97, 131) * 255, "sem_seg": torch.randint(0, 3, (97, 131))}]
    )
    assert torch.isfinite(losses["loss_sem_seg"])


def test_every_skip_feature_reaches_the_logits():
    """The expanding path concatenates each finer feature: changing any one of them
    changes the logits (a decoder that dropped its skips would ignore all but the coarsest)."""
    model = _unet(
        "MODEL.UNET.BASE_CHANNELS",
        4,
        "MODEL.UNET.DEPTH",
        2,
        "MODEL.SEM_SEG_HEAD.IN_FEATURES",
        "['level0', 'level1', 'level2']",
    ).eval()
    with torch.no_grad():
        features = model.backbone(torch.rand(1, 3, 16, 16))
        logits = model.sem_seg_head.layers(features)
        for name in ("level0", "level1", "level2"):
            changed = model.sem_seg_head.layers({**features, name: features[name] + 1.0})
            assert not torch.allclose(changed, logits), name


def test_decoder_widths_are_set_per_level_and_default_to_the_skip_features():
    skip_wide = _unet("MODEL.UNET.BASE_CHANNELS", 4)
    assert [fuse[0].out_channels for fuse in skip_wide.sem_seg_head.fuses] == [
        32,
        16,
        8,
        4,
    ]  # coarse to fine
    # the bilinear decoder's upsampling convolutions take each level to its width
    narrow = _unet(
        "MODEL.UNET.BASE_CHANNELS",
        4,
        "MODEL.SEM_SEG_HEAD.DECODER_CHANNELS",
        "[3, 5, 7, 9]",
        "MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE",
        "bilinear",
    )
    head = narrow.sem_seg_head
    assert [fuse[0].out_channels for fuse in head.fuses] == [9, 7, 5, 3]
    # each level joins its skip feature (32 channels at the coarsest) to the upsampled width
    assert [fuse[0].in_channels for fuse in head.fuses] == [32 + 9, 16 + 7, 8 + 5, 4 + 3]
    assert head.predictor.in_channels == 3
    with torch.no_grad():
        assert narrow.eval()([{"image": torch.rand(3, 40, 56) * 255}])[0]["sem_seg"].shape == (
            6,
            40,
            56,
        )
    with pytest.raises(ValueError, match="DECODER_CHANNELS has 2 widths for 5 features"):
        _unet("MODEL.UNET.BASE_CHANNELS", 4, "MODEL.SEM_SEG_HEAD.DECODER_CHANNELS", "[3, 5]")


def test_losses_take_logits_at_any_resolution_as_a_coarse_head():
    head = _unet(
        "MODEL.UNET.BASE_CHANNELS", 4, "MODEL.SEM_SEG_HEAD.DICE_LOSS_WEIGHT", 0.0
    ).sem_seg_head
    targets = torch.zeros(1, 16, 16, dtype=torch.long)
    coarse = torch.zeros(1, 6, 4, 4)
    coarse[:, 0] = 10.0  # confident and right everywhere once resized
    assert head.losses(coarse, targets)["loss_sem_seg"] < 1e-3
    coarse[:, 0], coarse[:, 1] = 0.0, 10.0
    assert head.losses(coarse, targets)["loss_sem_seg"] > 5


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="MODEL.UNET.DOWNSAMPLE"):
        UNetEncoder(downsample="avgpool")
    with pytest.raises(ValueError, match="level7"):
        UNetEncoder(depth=2, out_features=["level7"])
    with pytest.raises(ValueError, match="2 class weights given for 6 classes"):
        _unet("MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS", "[1.0, 2.0]")


def test_learns_a_toy_task_from_scratch_in_a_few_sgd_steps():
    """Guards the classifier's initialisation: with a near-zero one, as mask heads use,
    the U-Net learned only the majority class from scratch."""
    torch.manual_seed(0)
    batch = []
    for _ in range(8):
        image, labels = torch.rand(3, 64, 64) * 80, torch.full((64, 64), 5)
        y, x = torch.randint(0, 44, (2,)).tolist()
        image[:, y : y + 20, x : x + 20] = torch.tensor([30.0, 30.0, 220.0]).view(3, 1, 1)
        labels[y : y + 20, x : x + 20] = 2
        batch.append({"image": image, "sem_seg": labels})
    model = _unet("MODEL.SEM_SEG_HEAD.DICE_LOSS_WEIGHT", 0.0)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(40):
        loss = sum(model(batch).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


def test_channels_last_changes_the_layout_not_the_numbers():
    from seg_d2.engine import Trainer

    cfg = seg_d2.setup_config(UNET, ["MODEL.DEVICE", "cpu", "MODEL.UNET.BASE_CHANNELS", "4"])
    torch.manual_seed(0)
    plain = Trainer.build_model(cfg).eval()
    cfg.MODEL.CHANNELS_LAST = True
    torch.manual_seed(0)
    channels_last = Trainer.build_model(cfg).eval()
    conv = channels_last.backbone.levels[0][0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    image = {"image": torch.rand(3, 45, 67) * 255}
    with torch.no_grad():
        expected, got = plain([image])[0]["sem_seg"], channels_last([image])[0]["sem_seg"]
    assert torch.allclose(expected, got, atol=1e-4)


def test_amp_on_a_cpu_trains_forwards_in_bfloat16_and_nothing_else(tiny_val, tmp_path, monkeypatch):
    """SOLVER.AMP.ENABLED on a CPU with bfloat16 instructions (assumed here, so that any
    CPU runs the test): the inner trainer is CPUAutocastTrainer, whose steps run the model
    in bfloat16 while weights and gradients stay float32, and the model outside a step
    (evaluation) runs in float32."""
    from seg_d2.engine import CPUAutocastTrainer, Trainer, train_loop

    monkeypatch.setattr(train_loop, "cpu_computes_bfloat16", lambda: True)

    from detectron2.engine import SimpleTrainer
    from detectron2.utils.events import EventStorage

    opts = [
        "DATASETS.TRAIN",
        f"('{tiny_val}_sem_seg',)",
        "MODEL.DEVICE",
        "cpu",
        "MODEL.UNET.DEPTH",
        "2",
        "MODEL.UNET.BASE_CHANNELS",
        "4",
        "DATALOADER.NUM_WORKERS",
        "0",
        "SOLVER.IMS_PER_BATCH",
        "2",
        "OUTPUT_DIR",
        str(tmp_path),
    ]
    assert (
        type(Trainer(seg_d2.setup_config(UNET, [*opts, "SOLVER.AMP.ENABLED", "False"]))._trainer)
        is SimpleTrainer
    )
    trainer = Trainer(seg_d2.setup_config(UNET, [*opts, "SOLVER.AMP.ENABLED", "True"]))
    assert isinstance(trainer._trainer, CPUAutocastTrainer)
    model = trainer.model
    dtypes = []
    model.backbone.levels[0].register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype)
    )
    with EventStorage(0):
        trainer._trainer.iter = 0
        trainer._trainer.run_step()
    weight = model.backbone.levels[0][0][0].weight
    assert dtypes == [torch.bfloat16]
    assert weight.dtype == weight.grad.dtype == torch.float32 and torch.isfinite(weight.grad).all()
    assert not model._forward_pre_hooks and not model._forward_hooks  # autocast ends with the step
    model.eval()
    with torch.no_grad():
        (output,) = model([{"image": torch.rand(3, 32, 48) * 255}])
    assert dtypes[-1] == torch.float32 and output["sem_seg"].dtype == torch.float32


def test_logits_of_a_coarse_finest_feature_are_resized_bilinearly():
    """On a backbone whose finest feature has stride 4, the head's last step is a bilinear
    resize of its predictor's logits to the input size (nearest would leave 4x4 blocks)."""
    model = build_model(_unet_head_on("build_resnet_backbone", ["res2", "res3"])).eval()
    logits = {}
    model.sem_seg_head.predictor.register_forward_hook(
        lambda module, args, output: logits.update(coarse=output)
    )
    features = model.backbone(torch.rand(1, 3, 64, 96) * 255)
    with torch.no_grad():
        fine = model.sem_seg_head.layers(features, (64, 96))
    expected = torch.nn.functional.interpolate(
        logits["coarse"], size=(64, 96), mode="bilinear", align_corners=False
    )
    assert logits["coarse"].shape[-2:] == (16, 24)
    torch.testing.assert_close(fine, expected)
