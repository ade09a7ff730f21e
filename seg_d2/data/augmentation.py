"""Training augmentation without code: detectron2's own from ``INPUT.*`` (resize, flip,
crop), then each entry of ``INPUT.EXTRA_AUGMENTATIONS``, a call of an augmentation in
``detectron2.data.transforms`` (or seg_d2's ``RandomInvert``) with literal arguments, e.g.
``"RandomBrightness(0.8, 1.2)"`` or ``"RandomRotation([-15, 15], expand=False)"``."""

import ast

from detectron2.data import transforms as T

from ..errors import ConfigError
from .mapper import DatasetMapper

__all__ = ["RandomInvert", "build_train_mapper", "parse_augmentation"]


class RandomInvert(T.Augmentation):
    """The image's intensities reversed (255 - value) with probability ``prob``: what one
    microscope shows dark on bright (bright-field, stained tissue), another shows bright on
    dark (fluorescence); a model trained on both polarities starts closer to either."""

    def __init__(self, prob=0.5):
        super().__init__()
        self._init(locals())

    def get_transform(self, image):
        if self._rand_range() < self.prob:
            return T.ColorTransform(_inverted)
        return T.NoOpTransform()


def _inverted(image):
    return 255 - image


_OWN_AUGMENTATIONS = {"RandomInvert": RandomInvert}


def parse_augmentation(text):
    """The augmentation ``text`` names, built; a ConfigError naming the entry otherwise."""
    where = f"INPUT.EXTRA_AUGMENTATIONS entry {text!r}"
    try:
        call = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ConfigError(f"{where} is not a call such as 'RandomBrightness(0.8, 1.2)'") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise ConfigError(f"{where} is not a call such as 'RandomBrightness(0.8, 1.2)'")
    augmentation = _OWN_AUGMENTATIONS.get(call.func.id) or getattr(T, call.func.id, None)
    if not (isinstance(augmentation, type) and issubclass(augmentation, T.Augmentation)):
        raise ConfigError(
            f"{where}: detectron2.data.transforms has no augmentation {call.func.id!r}"
        )
    try:
        args = [ast.literal_eval(arg) for arg in call.args]
        kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
        return augmentation(*args, **kwargs)
    except (ValueError, TypeError, AssertionError) as error:
        raise ConfigError(f"{where}: {error}") from None


def build_train_mapper(cfg):
    """detectron2's training DatasetMapper (reading images as seg_d2 does) with the extra
    augmentations appended. Boxes are recomputed from the transformed masks when there
    are extras (a rotation or crop would otherwise leave them loose), as detectron2 does
    after its own crop."""
    args = DatasetMapper.from_config(cfg, is_train=True)
    extras = [parse_augmentation(text) for text in cfg.INPUT.EXTRA_AUGMENTATIONS]
    args["augmentations"] = list(args["augmentations"]) + extras
    args["recompute_boxes"] = args["recompute_boxes"] or bool(extras and args["use_instance_mask"])
    return DatasetMapper(**args)
