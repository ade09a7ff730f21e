"""Samples the converter tests share: masks, images and their COCO decoding."""

import base64
import io
import json
import os

from seg_d2.data.masks import segmentation_to_mask

import numpy as np
from PIL import Image

H, W = 40, 48


def _masks():
    """Three instances: a ring (a hole), a square touching the ring's right side, and a
    blob in two separate parts."""
    yy, xx = np.mgrid[:H, :W]
    ring = ((yy - 14) ** 2 + (xx - 14) ** 2 <= 100) & ((yy - 14) ** 2 + (xx - 14) ** 2 > 16)
    square = np.zeros((H, W), bool)
    square[8:20, 25:36] = True
    square &= ~ring
    parts = np.zeros((H, W), bool)
    parts[28:34, 4:10] = True
    parts[30:37, 30:44] = True
    return [ring, square, parts]


def _save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def _image(path, height=H, width=W):
    _save(path, np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8))


def _decoded(json_file):
    """{image file name: [(category name, mask), ...]} of a written COCO JSON."""
    with open(json_file) as f:
        dataset = json.load(f)
    names = {c["id"]: c["name"] for c in dataset["categories"]}
    images = {image["id"]: image for image in dataset["images"]}
    out = {image["file_name"]: [] for image in dataset["images"]}
    for a in dataset["annotations"]:
        image = images[a["image_id"]]
        out[image["file_name"]].append(
            (
                names[a["category_id"]],
                segmentation_to_mask(a["segmentation"], image["height"], image["width"]),
            )
        )
    return out


def _mask_folders(root, masks=None):
    for sample, sample_masks in (("a", masks or _masks()), ("b", _masks()[:1])):
        _image(root / sample / "images" / f"{sample}.png")
        for k, mask in enumerate(sample_masks):
            _save(str(root / sample / "masks" / f"{k}.png"), mask.astype(np.uint8) * 255)


def _instance_ids(masks):
    ids = np.zeros((H, W), np.uint16)
    for k, mask in enumerate(masks, start=1):
        ids[mask] = k
    return ids


def _instance_pngs_with_a_class_map(tmp_path):
    _image(tmp_path / "images" / "x.jpg")
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids(_masks()))
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"x": {"1": "ring", "2": "box", "3": "ring"}}))
    return class_map


def _instance_pngs_in_class_folders(tmp_path):
    for cls in ("cat", "dog"):
        _image(tmp_path / "images" / cls / "x.png")
        _save(str(tmp_path / "ids" / cls / "x.png"), _instance_ids(_masks()[:1]).astype(np.uint8))


def _semantic_pngs(tmp_path):
    """An image, its labels (0 background, 1 cell, 2 debris, 255 unlabelled) and the
    cells' instance ids; the labels."""
    ring, square, parts = _masks()
    labels = np.zeros((H, W), np.uint8)  # 0 = background (stuff)
    labels[ring | square] = 1  # cell
    labels[parts] = 2  # debris (stuff)
    labels[0, :] = 255
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "labels" / "x.png"), labels)
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids([ring, square]))
    return labels


def _via_export(tmp_path):
    _image(tmp_path / "images" / "x.png")
    via = {
        "x.png1234": {
            "filename": "x.png",
            "size": 1234,
            "regions": [
                {
                    "shape_attributes": {
                        "name": "polygon",
                        "all_points_x": [2, 20, 20, 2],
                        "all_points_y": [2, 2, 12, 12],
                    },
                    "region_attributes": {"kind": "box"},
                },
                {
                    "shape_attributes": {
                        "name": "rect",
                        "x": 30,
                        "y": 20,
                        "width": 10,
                        "height": 8,
                    },
                    "region_attributes": {"kind": "box"},
                },
                {
                    "shape_attributes": {"name": "circle", "cx": 12, "cy": 28, "r": 6},
                    "region_attributes": {"kind": "disc"},
                },
                {
                    "shape_attributes": {"name": "point", "cx": 5, "cy": 5},
                    "region_attributes": {"kind": "box"},
                },
            ],
        }
    }
    (tmp_path / "via.json").write_text(json.dumps(via))


def _png_base64(mask):
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _labelme_folder(tmp_path):
    _image(tmp_path / "x.png")
    ring = _masks()[0]
    shapes = [
        {
            "label": "cell",
            "points": [[2, 2], [10, 2], [10, 10], [2, 10]],
            "group_id": 1,
            "shape_type": "polygon",
        },
        {"label": "cell", "points": [[20, 2], [28, 10]], "group_id": 1, "shape_type": "rectangle"},
        {
            "label": "ring",
            "points": [[0, 0], [W - 1, H - 1]],
            "group_id": None,
            "shape_type": "mask",
            "mask": _png_base64(ring),
        },
        {"label": "cell", "points": [[5, 5]], "group_id": None, "shape_type": "point"},
    ]
    (tmp_path / "x.json").write_text(json.dumps({"imagePath": "x.png", "shapes": shapes}))
