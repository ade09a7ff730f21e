"""Weights of other libraries load as they are downloaded: torchvision's and timm's
ResNets into detectron2's ResNet and smp's encoders, torchvision's Mask R-CNN into its
detectron2 config; loading says what it did, a wrong file is an error, and an address
is downloaded once. The weights are random (a conversion that keeps the features for
random weights keeps them for trained ones), BatchNorm statistics included."""

import functools
import http.server
import logging
import os
import threading

import seg_d2
from seg_d2.commands.convert_weights import main as convert_weights
from seg_d2.engine.checkpoint import CheckpointError, load_weights
from seg_d2.engine.weight_formats import (
    SMP_MODEL,
    TORCHVISION_RCNN,
    TORCHVISION_RESNET,
    convert_foreign_weights,
    recognise,
)

import pytest
import torch
import torchvision
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances, pairwise_iou
from helpers import MASK_RCNN, REPO
from torchvision.models.detection.image_list import ImageList

TORCHVISION_MASK_RCNN = os.path.join(REPO, "configs/coco/mask_rcnn_R50_FPN_torchvision.yaml")
CPU_ONLY = ["MODEL.DEVICE", "cpu", "DATASETS.TRAIN", "()", "DATASETS.TEST", "()"]


def _with_statistics(model, seed=0):
    """``model`` with random BatchNorm statistics, as a trained model has."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.rand(module.num_features, generator=generator))
                module.running_var.copy_(1 + torch.rand(module.num_features, generator=generator))
    return model.eval()


def _timm_resnet18():
    timm = pytest.importorskip("timm")
    return timm.create_model("resnet18", pretrained=False)


@functools.cache
def _resnet18_file(source, folder):
    torch.manual_seed(0)
    model = _with_statistics(
        torchvision.models.resnet18(weights=None) if source == "torchvision" else _timm_resnet18()
    )
    path = os.path.join(folder, f"{source}_resnet18.pth")
    torch.save(model.state_dict(), path)  # as a user saves downloaded weights
    return model, path


def _d2_model(config, *opts):
    return build_model(seg_d2.load_config(config, [*CPU_ONLY, *opts])).eval()


def _resnet_stages(model, image):
    relu = model.relu if hasattr(model, "relu") else model.act1  # torchvision's, timm's
    x = model.maxpool(relu(model.bn1(model.conv1(image))))
    outputs = {}
    for index in range(1, 5):
        x = getattr(model, f"layer{index}")(x)
        outputs[f"res{index + 1}"] = x
    return outputs


@pytest.mark.parametrize("source", ["torchvision", "timm"])
@pytest.mark.parametrize("how", ["converted", "as downloaded"])
def test_an_imagenet_resnet18_gives_detectron2s_res2_to_res5(source, how, tmp_path_factory):
    model, path = _resnet18_file(source, str(tmp_path_factory.mktemp(source)))
    if how == "converted":
        converted = str(tmp_path_factory.mktemp("converted") / "r18.pth")
        _, kind = convert_weights([path, converted])
        assert kind == TORCHVISION_RESNET
        path = converted
    d2 = _d2_model(MASK_RCNN)
    load_weights(d2, path)
    image = torch.randn(1, 3, 128, 160)
    with torch.no_grad():
        expected = _resnet_stages(model, image)
        features = d2.backbone.bottom_up(image)
    for name, value in expected.items():
        assert torch.allclose(features[name], value, atol=1e-4), name


def test_an_imagenet_resnet_starts_an_smp_encoder(tmp_path):
    """smp's ResNet encoders use torchvision's names: the file loads into the encoder."""
    model, path = _resnet18_file("torchvision", str(tmp_path))
    d2 = _d2_model(os.path.join(REPO, "configs/shapes/pspnet_R18.yaml"))
    load_weights(d2, path)
    encoder = d2.backbone.model.encoder
    for name, tensor in model.state_dict().items():
        if not name.startswith("fc."):
            assert torch.equal(encoder.state_dict()[name], tensor), name


@pytest.fixture(scope="module")
def torchvision_mask_rcnn(tmp_path_factory):
    """torchvision's maskrcnn_resnet50_fpn (v1, 91 classes), random, saved as downloaded;
    a classifier bias that makes it detect something."""
    torch.manual_seed(0)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=91
    ).eval()
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.bias[1] += 6.0
    path = tmp_path_factory.mktemp("torchvision") / "maskrcnn_resnet50_fpn.pth"
    torch.save(model.state_dict(), path)
    return model, str(path)


@pytest.mark.slow
def test_torchvisions_mask_rcnn_gives_the_same_features_proposals_and_detections(
    torchvision_mask_rcnn,
):
    """FPN p2..p6 equal; the RPN's proposals the same; on the same proposals, the box and
    mask heads' detections the same but for near-ties (measured: 96 of 100)."""
    model, path = torchvision_mask_rcnn
    assert recognise(torch.load(path, weights_only=True)) == TORCHVISION_RCNN
    d2 = _d2_model(
        TORCHVISION_MASK_RCNN, "MODEL.WEIGHTS", path, "MODEL.ROI_HEADS.NUM_CLASSES", "90"
    )
    load_weights(d2, path)
    image = torch.rand(3, 800, 1024) * 255
    height, width = image.shape[1:]
    with torch.no_grad():
        images = d2.preprocess_image([{"image": image}])
        features = d2.backbone(images.tensor)
        levels = dict(zip(["0", "1", "2", "3", "pool"], ["p2", "p3", "p4", "p5", "p6"]))
        theirs = model.backbone(images.tensor)
        for level, name in levels.items():
            scale = float(theirs[level].abs().max())
            assert float((theirs[level] - features[name]).abs().max()) <= 1e-4 * scale, name
        torchvision_features = {level: features[name] for level, name in levels.items()}
        proposals, _ = model.rpn(ImageList(images.tensor, [(height, width)]), torchvision_features)
        ours, _ = d2.proposal_generator(images, features)
        overlap = pairwise_iou(Boxes(proposals[0][:200]), ours[0].proposal_boxes[:200])
        assert float((overlap.max(1).values >= 0.99).float().mean()) >= 0.99
        detections, _ = model.roi_heads(torchvision_features, proposals, [(height, width)])
        given = Instances((height, width), proposal_boxes=Boxes(proposals[0]))
        given.objectness_logits = torch.zeros(len(proposals[0]))
        mine, _ = d2.roi_heads(images, features, [given])
    theirs, mine = detections[0], mine[0]
    best = pairwise_iou(Boxes(theirs["boxes"]), mine.pred_boxes).max(1)
    same = (best.values >= 0.99) & (theirs["labels"] == mine.pred_classes[best.indices] + 1)
    assert len(theirs["boxes"]) == 100 and float(same.float().mean()) >= 0.9
    masks_theirs = theirs["masks"][same, 0] > 0.5
    masks_mine = mine.pred_masks[best.indices[same], 0] > 0.5
    intersection = (masks_theirs & masks_mine).flatten(1).sum(1)
    union = (masks_theirs | masks_mine).flatten(1).sum(1).clamp(min=1)
    assert float((intersection / union).mean()) >= 0.95


@pytest.mark.slow
def test_a_head_of_another_class_count_is_reinitialised_and_reported(torchvision_mask_rcnn, caplog):
    _, path = torchvision_mask_rcnn
    d2 = _d2_model(TORCHVISION_MASK_RCNN, "MODEL.ROI_HEADS.NUM_CLASSES", "1")
    before = d2.roi_heads.box_predictor.cls_score.weight.clone()
    with caplog.at_level(logging.INFO):
        load_weights(d2, path)
    table = next(r.getMessage() for r in caplog.records if "Loading weights" in r.getMessage())
    assert "| re-initialised: shape differs |" in table
    assert "roi_heads.box_predictor.cls_score.weight" in table
    assert torch.equal(d2.roi_heads.box_predictor.cls_score.weight, before)
    backbone = d2.backbone.bottom_up.stem.conv1.weight
    assert torch.equal(backbone, torch.load(path)["backbone.body.conv1.weight"])


def test_a_wrong_file_is_an_error(tmp_path):
    """A U-Net's weights into Mask R-CNN load nothing: an error naming the file."""
    unet = _d2_model(os.path.join(REPO, "configs/shapes/unet.yaml"))
    path = str(tmp_path / "unet.pth")
    torch.save({"model": unet.state_dict()}, path)
    with pytest.raises(CheckpointError, match=rf"{path}: loads 0 of the model's \d+ tensors"):
        load_weights(_d2_model(MASK_RCNN), path)


def test_a_file_not_recognised_is_not_converted(tmp_path):
    path = str(tmp_path / "other.pth")
    torch.save({"weight": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="not a torchvision, timm or smp weights file"):
        convert_weights([path, str(tmp_path / "out.pth")])


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests = 0

    def do_GET(self):
        type(self).requests += 1
        super().do_GET()

    def log_message(self, *args):
        pass


def test_an_address_is_downloaded_once_then_read_from_the_cache(tmp_path, monkeypatch):
    model, path = _resnet18_file("torchvision", str(tmp_path))
    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path / "cache"))
    handler = functools.partial(_CountingHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_port}/{os.path.basename(path)}"
    try:
        for _ in range(2):
            d2 = _d2_model(MASK_RCNN)
            load_weights(d2, address)
            assert torch.equal(d2.backbone.bottom_up.stem.conv1.weight, model.conv1.weight)
    finally:
        server.shutdown()
    assert _CountingHandler.requests == 1
    cached = [f for _, _, files in os.walk(tmp_path / "cache") for f in files]
    assert os.path.basename(path) in cached
    d2 = _d2_model(MASK_RCNN)
    load_weights(d2, f"file://{path}")  # a local address too
    assert torch.equal(d2.backbone.bottom_up.stem.conv1.weight, model.conv1.weight)


def test_torchvisions_rcnn_names_and_class_rows_in_detectron2s_layout():
    """Both name styles (the published file's and current torchvision's) renamed; the
    classifier's background row moved last, background's box and mask rows dropped."""
    classes = 3  # torchvision: background + 2
    weights = {
        "backbone.body.layer1.0.conv1.weight": torch.zeros(1),
        "backbone.body.layer1.0.bn1.running_mean": torch.zeros(1),
        "backbone.body.layer1.0.downsample.1.weight": torch.zeros(1),
        "backbone.body.bn1.num_batches_tracked": torch.zeros(()),
        "backbone.fpn.inner_blocks.0.weight": torch.zeros(1),
        "backbone.fpn.layer_blocks.3.0.bias": torch.zeros(1),
        "rpn.head.conv.weight": torch.zeros(1),
        "rpn.head.conv.0.0.bias": torch.zeros(1),
        "rpn.head.cls_logits.weight": torch.zeros(1),
        "rpn.head.bbox_pred.weight": torch.zeros(1),
        "roi_heads.box_head.fc6.weight": torch.zeros(1),
        "roi_heads.box_head.fc7.bias": torch.zeros(1),
        "roi_heads.box_predictor.cls_score.weight": torch.arange(classes)[:, None].float(),
        "roi_heads.box_predictor.bbox_pred.bias": torch.arange(4 * classes).float(),
        "roi_heads.mask_head.mask_fcn1.weight": torch.zeros(1),
        "roi_heads.mask_head.3.0.weight": torch.zeros(1),
        "roi_heads.mask_predictor.conv5_mask.weight": torch.zeros(1),
        "roi_heads.mask_predictor.mask_fcn_logits.bias": torch.arange(classes).float(),
    }
    converted, kind = convert_foreign_weights(weights, ())
    assert kind == TORCHVISION_RCNN and "matching_heuristics" not in converted
    model = converted["model"]
    assert set(model) == {
        "backbone.bottom_up.res2.0.conv1.weight",
        "backbone.bottom_up.res2.0.conv1.norm.running_mean",
        "backbone.bottom_up.res2.0.shortcut.norm.weight",
        "backbone.fpn_lateral2.weight",
        "backbone.fpn_output5.bias",
        "proposal_generator.rpn_head.conv.weight",
        "proposal_generator.rpn_head.conv.bias",
        "proposal_generator.rpn_head.objectness_logits.weight",
        "proposal_generator.rpn_head.anchor_deltas.weight",
        "roi_heads.box_head.fc1.weight",
        "roi_heads.box_head.fc2.bias",
        "roi_heads.box_predictor.cls_score.weight",
        "roi_heads.box_predictor.bbox_pred.bias",
        "roi_heads.mask_head.mask_fcn1.weight",
        "roi_heads.mask_head.mask_fcn4.weight",
        "roi_heads.mask_head.deconv.weight",
        "roi_heads.mask_head.predictor.bias",
    }
    assert model["roi_heads.box_predictor.cls_score.weight"][:, 0].tolist() == [1, 2, 0]
    assert model["roi_heads.box_predictor.bbox_pred.bias"].tolist() == list(range(4, 12))
    assert model["roi_heads.mask_head.predictor.bias"].tolist() == [1, 2]


def test_an_unrecognised_state_dict_is_left_to_detectron2():
    assert convert_foreign_weights({"backbone.bottom_up.stem.conv1.weight": 0}, ()) == (None, None)
    assert convert_foreign_weights(torch.zeros(2), ()) == (None, None)
    assert recognise({"encoder.conv1.weight": 0, "decoder.x": 0}) == SMP_MODEL


def test_a_checkpoint_wrapping_the_weights_converts_and_the_command_says_what_it_wrote(
    tmp_path, capsys
):
    """A file of {"model": weights} (a training checkpoint's layout) converts as the bare
    weights do; the command names what it recognised and how many tensors it wrote."""
    model, bare = _resnet18_file("torchvision", str(tmp_path))
    wrapped = str(tmp_path / "wrapped.pth")
    torch.save({"model": model.state_dict()}, wrapped)
    outputs = {}
    for name, path in (("bare", bare), ("wrapped", wrapped)):
        output = str(tmp_path / f"{name}_d2.pth")
        assert convert_weights([path, output]) == (output, TORCHVISION_RESNET)
        outputs[name] = torch.load(output, weights_only=True)["model"]
        count = len(outputs[name])
        assert capsys.readouterr().out == (
            f"{path}: recognised {TORCHVISION_RESNET}; wrote {count} tensors to {output}\n"
        )
    assert outputs["wrapped"].keys() == outputs["bare"].keys()
    assert all(torch.equal(outputs["wrapped"][k], outputs["bare"][k]) for k in outputs["bare"])
