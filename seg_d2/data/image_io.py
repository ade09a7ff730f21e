"""Reading images the way detectron2 does, for the cases it gets wrong."""

import os

import numpy as np
from detectron2.data.detection_utils import convert_PIL_to_numpy
from detectron2.utils.file_io import PathManager
from PIL import Image, ImageOps

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

# Pillow modes of greyscale images with more than 8 bits: 16-bit, 32-bit integer, float.
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")
_COLOUR_FORMATS = ("RGB", "BGR", "YUV-BT.601")


class ImageReadError(DatasetError):
    """An image file that is missing or cannot be decoded; the message names it."""


def _eight_bit(image):
    """A greyscale image of more than 8 bits, as the 8 bits a photo is shown with: integer
    values (16-bit, or 32-bit holding 0..65535) shifted right by 8, float values in 0..1
    times 255 or in 0..255 as they are; other ranges (signed data, NaN) raise ValueError.
    detectron2's conversion would clip them to white, wrap them, or turn floats black."""
    values = np.asarray(image)
    low, high = (values.min(), values.max()) if values.size else (0, 0)
    if image.mode == "F":
        if not (np.isfinite(low) and np.isfinite(high) and low >= 0 and high <= 255):
            raise ValueError(
                f"a float image with values {low:g}..{high:g}; seg_d2 reads float images "
                "with values in 0..1 (scaled by 255) or 0..255"
            )
        scale = 255.0 if high <= 1 else 1.0
        return Image.fromarray(np.rint(values * scale).astype(np.uint8), mode="L")
    if low < 0 or high > 65535:
        raise ValueError(
            f"an integer image with values {low}..{high}; seg_d2 reads integer images of "
            "8 or 16 bits (0..65535), scaling 16-bit ones to 8 bits"
        )
    return Image.fromarray((values.astype(np.uint32) >> 8).astype(np.uint8), mode="L")


def read_image(file_name, format=None):
    """detectron2's ``read_image`` (EXIF orientation applied; grayscale, RGBA and CMYK
    converted), except that a photo of more than 8 bits read in colour is scaled to 8 bits
    by ``_eight_bit``'s rule (label maps keep their values), and that a file it cannot
    read, or whose values that rule refuses, raises ImageReadError naming it."""
    try:
        with PathManager.open(file_name, "rb") as f:
            image = ImageOps.exif_transpose(Image.open(f))
            if image.mode in _WIDE_MODES and format in _COLOUR_FORMATS:
                image = _eight_bit(image)
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
