#!/usr/bin/env python
"""Write the corpus of bad inputs that tests/data/test_bad_inputs.py runs through seg_d2.

    python tests/data/bad/make_corpus.py OUTPUT_DIR

Each case is a small COCO dataset, OUTPUT_DIR/<case>/instances.json + images/: two
64x48 images with one square instance each, then one fault. The corpus is written
fresh by the tests (a few hundred kB; the 8000x8000 image is a flat PNG) rather than
kept in git, because one case needs a file name that is not valid UTF-8.
"""

import copy
import io
import json
import os
import sys

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 64, 48
CATEGORY = {"id": 3, "name": "square", "isthing": 1}
NON_UTF8_NAME = b"caf\xe9.png"  # Latin-1 e-acute: not UTF-8


def _picture(index):
    rng = np.random.default_rng(index)
    pixels = rng.integers(40, 90, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    pixels[10:30, 10 + 20 * index : 30 + 20 * index] = (200, 60, 60)
    return pixels


def _encoded(pixels, image_format, **options):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, image_format, **options)
    return buffer.getvalue()


def _square(annotation_id, image_id):
    x = 10 + 20 * (image_id - 1)
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": CATEGORY["id"],
        "iscrowd": 0,
        "bbox": [x, 10, 20, 20],
        "area": 400,
        "segmentation": [[x, 10, x + 20, 10, x + 20, 30, x, 30]],
    }


def good_case():
    """(dataset, {file name: bytes}) of the two-image dataset every case starts from."""
    dataset = {
        "images": [
            {"id": i, "file_name": f"{'ab'[i - 1]}.png", "width": WIDTH, "height": HEIGHT}
            for i in (1, 2)
        ],
        "annotations": [_square(10, 1), _square(20, 2)],
        "categories": [CATEGORY],
    }
    return dataset, {f"{'ab'[i - 1]}.png": _encoded(_picture(i - 1), "PNG") for i in (1, 2)}


def _replace_image(dataset, files, name, data, size=None):
    """Image 2 becomes ``name`` with contents ``data`` (and its JSON size ``size``,
    without its annotation if that no longer fits)."""
    del files["b.png"]
    files[name] = data
    image = dataset["images"][1]
    image["file_name"] = os.fsdecode(name) if isinstance(name, bytes) else name
    if size is not None:
        image["width"], image["height"] = size
        dataset["annotations"] = [
            a
            for a in dataset["annotations"]
            if a["image_id"] != 2
            or (a["bbox"][0] + a["bbox"][2] <= size[0] and a["bbox"][1] + a["bbox"][3] <= size[1])
        ]


def _set_annotation(**changes):
    def change(dataset, files):
        dataset["annotations"][1].update(changes)

    return change


def _image(name, data, size=None):
    def change(dataset, files):
        _replace_image(dataset, files, name, data, size)

    return change


def _truncated(image_format):
    data = _encoded(
        _picture(1), image_format, **({"quality": 95} if image_format == "JPEG" else {})
    )
    return data[: len(data) * 6 // 10]


def _corrupt_png():
    data = bytearray(_encoded(_picture(1), "PNG"))
    data[16:24] = b"\xff" * 8  # the IHDR chunk's width and height, so its CRC fails
    return bytes(data)


def _corrupt_jpeg():
    data = bytearray(_encoded(_picture(1), "JPEG"))
    data[2:40] = b"\x00" * 38  # the first segments after the start-of-image marker
    return bytes(data)


def _sixteen_bit():
    grey = _picture(1)[..., 0].astype(np.uint16) * 257
    return _encoded(grey, "PNG")


def _cmyk_jpeg():
    buffer = io.BytesIO()
    Image.fromarray(_picture(1)).convert("CMYK").save(buffer, "JPEG")
    return buffer.getvalue()


def _rgba():
    rgba = np.dstack([_picture(1), np.full((HEIGHT, WIDTH), 128, np.uint8)])
    return _encoded(rgba, "PNG")


def _grey():
    return _encoded(_picture(1)[..., 1], "PNG")


def _huge():
    buffer = io.BytesIO()
    Image.new("L", (8000, 8000), 90).save(buffer, "PNG")
    return buffer.getvalue()


def _huge_image(dataset, files):
    """8000x8000 with an instance that stays visible at training scale."""
    _replace_image(dataset, files, "b.png", _huge(), (8000, 8000))
    dataset["annotations"][1].update(
        bbox=[2000, 2000, 4000, 4000],
        area=4000 * 4000,
        segmentation=[[2000, 2000, 6000, 2000, 6000, 6000, 2000, 6000]],
    )


def _duplicate_image_id(dataset, files):
    dataset["images"][1]["id"] = 1
    dataset["annotations"][1]["image_id"] = 1


def _duplicate_annotation_id(dataset, files):
    dataset["annotations"][1]["id"] = 10


def _no_annotations(dataset, files):
    dataset["annotations"] = []


def _drop_file(dataset, files):
    del files["b.png"]


def _wrong_size(dataset, files):
    dataset["images"][1]["width"], dataset["images"][1]["height"] = HEIGHT, WIDTH


# case -> change to the good dataset (all but 'non_utf8_json', which is about the JSON's bytes)
CASES = {
    "truncated_jpeg": _image("b.jpg", _truncated("JPEG")),
    "truncated_png": _image("b.png", _truncated("PNG")),
    "corrupt_jpeg": _image("b.jpg", _corrupt_jpeg()),
    "corrupt_png": _image("b.png", _corrupt_png()),
    "zero_byte_file": _image("b.png", b""),
    "missing_image": _drop_file,
    "wrong_size_in_json": _wrong_size,
    "polygon_under_3_points": _set_annotation(segmentation=[[30, 10, 50, 10]]),
    "self_intersecting_polygon": _set_annotation(segmentation=[[30, 10, 50, 30, 50, 10, 30, 30]]),
    "nan_coordinate": _set_annotation(segmentation=[[30, 10, float("nan"), 10, 50, 30, 30, 30]]),
    "inf_coordinate": _set_annotation(segmentation=[[30, 10, float("inf"), 10, 50, 30, 30, 30]]),
    "negative_coordinates": _set_annotation(
        bbox=[0, 0, 20, 20], segmentation=[[-10, -10, 20, -10, 20, 20, -10, 20]]
    ),
    "bbox_outside_image": _set_annotation(bbox=[50, 40, 30, 30]),
    "rle_wrong_size": _set_annotation(
        segmentation={"size": [HEIGHT + 1, WIDTH], "counts": [0, (HEIGHT + 1) * WIDTH]}
    ),
    "unknown_category": _set_annotation(category_id=99),
    "duplicate_image_id": _duplicate_image_id,
    "duplicate_annotation_id": _duplicate_annotation_id,
    "empty_annotations": _no_annotations,
    "non_utf8_json": None,
    "non_utf8_file_name": _image(NON_UTF8_NAME, _encoded(_picture(1), "PNG")),
    "one_pixel_image": _image(
        "b.png", _encoded(np.full((1, 1, 3), 90, np.uint8), "PNG"), size=(1, 1)
    ),
    "huge_image_8000x8000": _huge_image,
    "sixteen_bit_png": _image("b.png", _sixteen_bit()),
    "rgba_png": _image("b.png", _rgba()),
    "greyscale_png": _image("b.png", _grey()),
    "cmyk_jpeg": _image("b.jpg", _cmyk_jpeg()),
}


def _json_bytes(case, dataset):
    if case == "non_utf8_json":
        # A tool that wrote its JSON in Latin-1: e-acute as the single byte 0xe9.
        dataset["images"][1]["file_name"] = "caf\u00e9.png"
        return json.dumps(dataset, ensure_ascii=False).encode("latin-1")
    return json.dumps(dataset).encode("ascii")  # NaN and Infinity as Python's json writes them


def write_case(case, folder):
    """Write one case as ``folder/instances.json`` and ``folder/images/``; return the folder."""
    dataset, files = copy.deepcopy(good_case())
    if CASES[case] is not None:
        CASES[case](dataset, files)
    images = os.path.join(os.fsencode(folder), b"images")
    os.makedirs(images, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(images, os.fsencode(name)), "wb") as f:
            f.write(data)
    with open(os.path.join(folder, "instances.json"), "wb") as f:
        f.write(_json_bytes(case, dataset))
    return folder


def write_corpus(output_dir):
    return {case: write_case(case, os.path.join(output_dir, case)) for case in CASES}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for case, folder in write_corpus(sys.argv[1]).items():
        print(f"{case}: {folder}")
