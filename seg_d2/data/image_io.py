"""Reading images the way detectron2 does, for the cases it gets wrong."""

import os

import numpy as np
from detectron2.data.detection_utils import _apply_exif_orientation, convert_PIL_to_numpy
from detectron2.utils.file_io import PathManager
from PIL import Image

from ..errors import DatasetError

__all__ = ["IMAGE_EXTENSIONS", "ImageReadError", "list_image_files", "read_image"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")
_COLOUR_FORMATS = ("RGB", "BGR", "YUV-BT.601")


class ImageReadError(DatasetError):
    """An image file that is missing or cannot be decoded; the message names it."""


def read_image(file_name, format=None):
    """detectron2's ``read_image`` (EXIF orientation applied; grayscale, RGBA and CMYK
    converted), except that a 16-bit photo read in colour is scaled to 8 bits, where
    detectron2's conversion clips every value above 255 to white (label maps keep
    their values), and that a file it cannot read raises ImageReadError naming it."""
    try:
        with PathManager.open(file_name, "rb") as f:
            image = _apply_exif_orientation(Image.open(f))
            if image.mode in _SIXTEEN_BIT_MODES and format in _COLOUR_FORMATS:
                sixteen_bit = np.asarray(image, dtype=np.uint32)
                image = Image.fromarray((sixteen_bit >> 8).astype(np.uint8), mode="L")
            return convert_PIL_to_numpy(image, format)
    except Exception as e:  # noqa: BLE001 (PIL raises many kinds for a broken file; each is named)
        raise ImageReadError(
            f"cannot read image {os.fsdecode(file_name)!r} ({type(e).__name__}: {e})"
        ) from e


def list_image_files(paths):
    """The given files, and the images (by extension, sorted) in the given folders."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(
                os.path.join(path, f)
                for f in os.listdir(path)
                if f.lower().endswith(IMAGE_EXTENSIONS)
            )
        else:
            files.append(path)
    return files
