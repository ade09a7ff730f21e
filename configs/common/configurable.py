"""LazyCalls of ``@configurable`` components with the arguments their own ``from_config``
reads from a YAML config: the values the YAML path gives them, written nowhere else."""

from collections.abc import Mapping, Sequence

from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec

PLAIN = (type(None), bool, int, float, str, ShapeSpec)


def _is_plain(value):
    if isinstance(value, Mapping):  # LazyCalls included: their target is a callable
        return all(_is_plain(item) for key, item in value.items() if key != "_target_")
    if isinstance(value, Sequence) and not isinstance(value, str):
        return all(_is_plain(item) for item in value)
    return isinstance(value, PLAIN)


def from_config(cls, cfg, *args, **built):
    """``L(cls)`` with ``cls.from_config(cfg, *args)``'s arguments; ``built`` replaces those
    it builds (modules and other objects, which a Python config keeps as LazyCalls)."""
    arguments = cls.from_config(cfg, *args)
    arguments.update(built)
    objects = sorted(key for key, value in arguments.items() if not _is_plain(value))
    if objects:
        raise TypeError(f"{cls.__name__}.from_config builds {objects}: give them as LazyCalls")
    return L(cls)(**arguments)
