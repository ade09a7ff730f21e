"""Reading images the way detectron2 does, for the cases it gets wrong."""

import os

import numpy as np
from detectron2.data.detection_utils import _apply_exif_orientation, convert_PIL_to_numpy
from detectron2.utils.file_io import PathManager
from PIL import Image

from ..errors import DatasetError

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "list_image_files",
    "output_names",
    "read_image",
    "relative_image_path",
]

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


def relative_image_path(file_name):
    """A dataset image's ``file_name``, normalised; ValueError when it is not a path inside
    the image folder (absolute, or climbing out with ``..``): files derived from an image
    are named by this path, and must stay inside the folders seg_d2 writes."""
    if not isinstance(file_name, str) or not file_name:
        raise ValueError("'file_name' must be a non-empty string (a path in the image folder)")
    if os.path.isabs(file_name):
        raise ValueError("'file_name' is absolute; it must be relative to the image folder")
    normalised = os.path.normpath(file_name)
    if normalised == os.curdir or normalised.split(os.sep)[0] == os.pardir:
        raise ValueError("'file_name' leaves the image folder ('..')")
    return normalised


def list_image_files(paths):
    """The given files, and the images (by extension, sorted) in the given folders; each
    file once."""
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
    return list(dict.fromkeys(files))


def output_names(files, inputs):
    """A name for what is written for each of ``files`` (found in ``inputs``, files and
    folders): its path relative to the folder that holds all the inputs, extension
    included, so that no two files share one (``a/x.png`` and ``b/x.png``, ``x.png`` and
    ``x.jpg``)."""
    folders = [
        os.path.abspath(path) if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        for path in inputs
    ]
    common = os.path.commonpath(folders) if folders else os.getcwd()
    return [os.path.relpath(os.path.abspath(f), common) for f in files]
