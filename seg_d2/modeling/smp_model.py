"""The semantic architectures of segmentation_models_pytorch (smp: DeepLabV3/V3+, PSPNet,
FPN, UPerNet, SegFormer, UNet++, ...; timm encoders such as ``tu-hrnet_w18``) as a
detectron2 backbone, inside detectron2's SemanticSegmentor. The smp model ends in class
logits at the input's resolution, so the backbone's one feature is those logits and
``LogitsHead`` (seg_d2/modeling/logits_head.py) gives them seg_d2's losses: the padding,
normalisation, evaluators, visualizer, predictor, test-time augmentation and sliding
windows are the ones every seg_d2 semantic model uses, and no architecture is written here.
"""

import os

import segmentation_models_pytorch as smp
import torch
from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone

from ..errors import ConfigError

__all__ = ["SMPModel"]


@BACKBONE_REGISTRY.register()
class SMPModel(Backbone):
    @configurable
    def __init__(
        self,
        *,
        architecture,
        encoder,
        num_classes,
        in_channels=3,
        encoder_depth=5,
        encoder_weights="",
        architecture_args=None,
    ):
        """
        Args:
            architecture: an smp model class name, e.g. "DeepLabV3Plus", "Segformer".
            encoder: an smp encoder name, e.g. "resnet18", "mit_b0", "tu-hrnet_w18".
            encoder_depth: down-samplings of the encoder (smp's, 3 to 5).
            encoder_weights: a local file of the encoder's weights (a state dict, as smp
                saves ``model.encoder``), or "" to train from scratch; nothing is downloaded.
            architecture_args: keyword arguments of the architecture, e.g. decoder_channels.
        """
        super().__init__()
        if architecture.lower() not in smp.MODEL_ARCHITECTURES_MAPPING:
            known = ", ".join(sorted(c.__name__ for c in smp.MODEL_ARCHITECTURES_MAPPING.values()))
            raise ConfigError(f"MODEL.SMP.ARCHITECTURE {architecture!r} is not one of {known}")
        args = dict(architecture_args or {})
        if encoder_depth != 5:
            args["encoder_depth"] = encoder_depth
        try:
            self.model = smp.create_model(
                architecture,
                encoder_name=encoder,
                encoder_weights=None,
                in_channels=in_channels,
                classes=num_classes,
                **args,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"MODEL.SMP: {architecture} with encoder {encoder!r}: {error}"
            ) from None
        if encoder_weights:
            self._load_encoder_weights(encoder_weights)
        self._out_features = ["logits"]
        self._out_feature_strides = {"logits": 1}
        self._out_feature_channels = {"logits": num_classes}
        self._size_divisibility = 2**encoder_depth

    def _load_encoder_weights(self, path):
        if not os.path.isfile(path):
            raise ConfigError(f"MODEL.SMP.ENCODER_WEIGHTS: no such file {path!r}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.encoder.load_state_dict(state.get("state_dict", state))

    @classmethod
    def from_config(cls, cfg, input_shape: ShapeSpec):
        config = cfg.MODEL.SMP
        return {
            "architecture": config.ARCHITECTURE,
            "encoder": config.ENCODER,
            "num_classes": cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES,
            "in_channels": input_shape.channels,
            "encoder_depth": config.ENCODER_DEPTH,
            "encoder_weights": config.ENCODER_WEIGHTS,
            "architecture_args": dict(config.ARCHITECTURE_ARGS),
        }

    @property
    def size_divisibility(self):
        return self._size_divisibility

    def forward(self, x):
        return {"logits": self.model(x)}
