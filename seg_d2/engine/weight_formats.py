"""Weights files of other libraries, recognised by their tensor names and renamed to the
detectron2 model that loads them, so that ``MODEL.WEIGHTS`` (and ``seg-d2
convert-weights``) take them as they are downloaded:

- torchvision's and timm's ImageNet ResNets (``conv1``, ``bn1``, ``layer1..4``, ``fc``):
  into detectron2's ResNet (``stem``, ``res2..5``), or kept as they are for an smp model,
  whose encoder uses those names;
- torchvision's ``maskrcnn_resnet50_fpn`` / ``fasterrcnn_resnet50_fpn`` (v1; both the
  published file's names and current torchvision's): into detectron2's R50-FPN Mask R-CNN
  of ``configs/coco/mask_rcnn_R50_FPN_torchvision.yaml``, its class rows reordered
  (torchvision's background is row 0, detectron2's the last) and its background box and
  mask rows dropped;
- segmentation_models_pytorch models (``encoder.``, ``decoder.``, ...): kept as they are.

detectron2's own files (``.pth`` of a run, model-zoo ``.pkl``) are loaded as detectron2
loads them. Renamed files carry detectron2's ``matching_heuristics`` where names are
matched by their ending (a backbone into whichever model holds it).
"""

import re

import torch

__all__ = ["DETECTRON2_RESNET_KEYS", "convert_foreign_weights", "recognise"]

TORCHVISION_RESNET = "torchvision/timm ResNet"
TORCHVISION_RCNN = "torchvision R-CNN (ResNet-50 FPN, v1)"
SMP_MODEL = "segmentation_models_pytorch model"

# torchvision's ResNet names -> detectron2's, for the part after the stage's block index.
_BLOCK_NAMES = [
    (re.compile(r"^bn(\d)\."), r"conv\1.norm."),
    (re.compile(r"^downsample\.0\."), "shortcut."),
    (re.compile(r"^downsample\.1\."), "shortcut.norm."),
]


def recognise(weights):
    """The library a state dict comes from (one of this module's names), or None."""
    keys = set(weights)
    if any(k.startswith("backbone.body.layer1.") for k in keys) and any(
        k.startswith("roi_heads.box_predictor.") for k in keys
    ):
        return TORCHVISION_RCNN
    if "conv1.weight" in keys and any(k.startswith("layer1.") for k in keys):
        return TORCHVISION_RESNET
    if any(k.startswith("encoder.") for k in keys) and any(
        k.startswith(("decoder.", "segmentation_head.")) for k in keys
    ):
        return SMP_MODEL
    return None


def _resnet_name(name):
    """A torchvision ResNet tensor name as detectron2's ResNet names it; None for the
    classifier and BatchNorm's batch counter, which detectron2's ResNet does not have."""
    if name.startswith("fc.") or name.endswith("num_batches_tracked"):
        return None
    stage = re.match(r"^layer(\d)\.(\d+)\.(.*)$", name)
    if stage is None:  # the stem
        return "stem." + re.sub(r"^bn1\.", "conv1.norm.", name)
    index, block, rest = stage.groups()
    for pattern, replacement in _BLOCK_NAMES:
        rest = pattern.sub(replacement, rest)
    return f"res{int(index) + 1}.{block}.{rest}"


def _renamed(weights, rename):
    renamed = {}
    for name, tensor in weights.items():
        new = rename(name)
        if new is not None:
            renamed[new] = tensor
    return renamed


# torchvision R-CNN names (current and as published) -> detectron2's, past the backbone.
_RCNN_NAMES = [
    (
        r"^backbone\.fpn\.inner_blocks\.(\d)(?:\.0)?\.",
        lambda m: f"backbone.fpn_lateral{int(m[1]) + 2}.",
    ),
    (
        r"^backbone\.fpn\.layer_blocks\.(\d)(?:\.0)?\.",
        lambda m: f"backbone.fpn_output{int(m[1]) + 2}.",
    ),
    (r"^rpn\.head\.conv(?:\.0\.0)?\.", lambda m: "proposal_generator.rpn_head.conv."),
    (r"^rpn\.head\.cls_logits\.", lambda m: "proposal_generator.rpn_head.objectness_logits."),
    (r"^rpn\.head\.bbox_pred\.", lambda m: "proposal_generator.rpn_head.anchor_deltas."),
    (r"^roi_heads\.box_head\.fc6\.", lambda m: "roi_heads.box_head.fc1."),
    (r"^roi_heads\.box_head\.fc7\.", lambda m: "roi_heads.box_head.fc2."),
    (r"^roi_heads\.box_predictor\.", lambda m: "roi_heads.box_predictor."),
    (r"^roi_heads\.mask_head\.mask_fcn(\d)\.", lambda m: f"roi_heads.mask_head.mask_fcn{m[1]}."),
    (
        r"^roi_heads\.mask_head\.(\d)\.0\.",
        lambda m: f"roi_heads.mask_head.mask_fcn{int(m[1]) + 1}.",
    ),
    (r"^roi_heads\.mask_predictor\.conv5_mask\.", lambda m: "roi_heads.mask_head.deconv."),
    (r"^roi_heads\.mask_predictor\.mask_fcn_logits\.", lambda m: "roi_heads.mask_head.predictor."),
]


def _rcnn_name(name):
    if name.startswith("backbone.body."):
        inner = _resnet_name(name[len("backbone.body.") :])
        return inner and "backbone.bottom_up." + inner
    if name.endswith("num_batches_tracked"):
        return None
    for pattern, replacement in _RCNN_NAMES:
        match = re.match(pattern, name)
        if match:
            return replacement(match) + name[match.end() :]
    return None


def _background_last(weights):
    """torchvision's class rows (background first) in detectron2's layout: the classifier's
    background row last, the class-specific box and mask rows without background's."""
    converted = dict(weights)
    for suffix in ("weight", "bias"):
        scores = f"roi_heads.box_predictor.cls_score.{suffix}"
        if scores in converted:
            converted[scores] = torch.cat([converted[scores][1:], converted[scores][:1]])
        boxes = f"roi_heads.box_predictor.bbox_pred.{suffix}"
        if boxes in converted:
            converted[boxes] = converted[boxes][4:]
        masks = f"roi_heads.mask_head.predictor.{suffix}"
        if masks in converted:
            converted[masks] = converted[masks][1:]
    return converted


# A model's tensor names that say "detectron2's ResNet": converting for no model in
# particular (seg-d2 convert-weights) renames into detectron2's names.
DETECTRON2_RESNET_KEYS = ("res2.0.conv1.weight",)


def convert_foreign_weights(weights, model_keys):
    """(checkpoint for detectron2's checkpointer, what was recognised) for the state dict
    ``weights`` of another library, loaded into a model with tensors ``model_keys``;
    (None, None) for weights that are not recognised (detectron2's own, for one)."""
    if not isinstance(weights, dict) or not all(isinstance(key, str) for key in weights):
        return None, None
    kind = recognise(weights)
    if kind == TORCHVISION_RCNN:
        converted = _background_last(_renamed(weights, _rcnn_name))
        return {"model": converted, "__author__": "torchvision"}, kind
    if kind == TORCHVISION_RESNET:
        if any(".res2." in key or key.startswith("res2.") for key in model_keys):
            converted = _renamed(weights, _resnet_name)
        else:  # an smp encoder, with torchvision's names
            converted = {k: v for k, v in weights.items() if not k.startswith("fc.")}
        return {"model": converted, "__author__": "torchvision", "matching_heuristics": True}, kind
    if kind == SMP_MODEL:
        return {"model": dict(weights), "matching_heuristics": True}, kind
    return None, None
