"""detectron2's DatasetMapper, reading images and label maps with seg_d2's ``read_image``.

detectron2's mapper calls ``detection_utils.read_image``, which clips 16-bit photos to
white and fails on a broken file without naming it. Rather than replace that function
for every user of detectron2 in the process, seg_d2's mapper runs detectron2's own
``__call__`` with its ``detection_utils`` name bound to a view of that module in which
``read_image`` is seg_d2's (``seg_d2.compat.with_names_rebound``): the same mapping code,
for seg_d2's loaders only.
"""

import types

import detectron2.data
from detectron2.data import detection_utils

from ..compat import with_names_rebound
from . import image_io

__all__ = ["DatasetMapper"]


class _DetectionUtilsReadingWithSegD2(types.ModuleType):
    """``detectron2.data.detection_utils`` with ``read_image`` taken from seg_d2."""

    read_image = staticmethod(image_io.read_image)

    def __init__(self):
        super().__init__(detection_utils.__name__, detection_utils.__doc__)

    def __getattr__(self, name):
        return getattr(detection_utils, name)


class DatasetMapper(detectron2.data.DatasetMapper):
    __call__ = with_names_rebound(
        detectron2.data.DatasetMapper.__call__, utils=_DetectionUtilsReadingWithSegD2()
    )
