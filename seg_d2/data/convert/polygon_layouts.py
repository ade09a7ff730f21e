"""Layouts that give instances as polygons: VIA (VGG Image Annotator) and labelme JSON."""

import base64
import io
import json
import math
import os

import numpy as np
from PIL import Image

from .builder import CocoBuilder

__all__ = ["from_labelme", "from_via"]

_CIRCLE_POINTS = 32


def _ellipse(cx, cy, rx, ry, theta=0.0):
    angles = np.linspace(0, 2 * math.pi, _CIRCLE_POINTS, endpoint=False)
    x, y = rx * np.cos(angles), ry * np.sin(angles)
    xs = cx + x * math.cos(theta) - y * math.sin(theta)
    ys = cy + x * math.sin(theta) + y * math.cos(theta)
    return np.stack([xs, ys], axis=1).ravel().tolist()


def _via_polygon(shape):
    """A VIA region's shape as one polygon, or None for a shape that has no area."""
    kind = shape.get("name")
    if kind == "polygon":
        return [v for xy in zip(shape["all_points_x"], shape["all_points_y"]) for v in xy]
    if kind == "rect":
        x, y, w, h = shape["x"], shape["y"], shape["width"], shape["height"]
        return [x, y, x + w, y, x + w, y + h, x, y + h]
    if kind == "circle":
        return _ellipse(shape["cx"], shape["cy"], shape["r"], shape["r"])
    if kind == "ellipse":
        return _ellipse(shape["cx"], shape["cy"], shape["rx"], shape["ry"], shape.get("theta", 0.0))
    return None


def from_via(via_json, images_dir, category="object", class_attribute=None):
    """A VIA 1.x/2.x export (or project file) of polygon, rect, circle and ellipse regions.
    The class is ``region_attributes[class_attribute]`` when given, else ``category``;
    points and polylines have no area and are skipped (counted)."""
    with open(via_json, encoding="utf-8") as f:
        content = json.load(f)
    entries = content.get("_via_img_metadata", content)
    builder = CocoBuilder(images_dir)
    for key, entry in sorted(entries.items()):
        image = builder.add_image(os.path.join(images_dir, entry["filename"]))
        if image is None:
            continue
        regions = entry.get("regions", [])
        regions = list(regions.values()) if isinstance(regions, dict) else regions
        for index, region in enumerate(regions):
            where = f"{via_json}: {key!r} region {index}"
            polygon = _via_polygon(region["shape_attributes"])
            if polygon is None:
                builder.skip(f"{region['shape_attributes'].get('name')} region has no area", where)
                continue
            name = category
            if class_attribute is not None:
                name = region.get("region_attributes", {}).get(class_attribute)
                if not isinstance(name, str) or not name:
                    builder.error(
                        f"{where}: region attribute {class_attribute!r} is missing or not a name"
                    )
                    continue
            builder.add_polygons(image, builder.category_id(name), [polygon], where)
    return builder


def _labelme_mask(shape, height, width):
    """A labelme 5 "mask" shape: a PNG of the box between its two points."""
    (x0, y0), _ = shape["points"]
    box = np.asarray(Image.open(io.BytesIO(base64.b64decode(shape["mask"])))) > 0
    mask = np.zeros((height, width), dtype=bool)
    x0, y0 = int(round(x0)), int(round(y0))
    mask[y0 : y0 + box.shape[0], x0 : x0 + box.shape[1]] = box[: height - y0, : width - x0]
    return mask


def _labelme_polygon(shape):
    points = shape["points"]
    kind = shape.get("shape_type") or "polygon"
    if kind == "polygon":
        return [v for point in points for v in point]
    if kind == "rectangle":
        (x0, y0), (x1, y1) = points
        return [x0, y0, x1, y0, x1, y1, x0, y1]
    if kind == "circle":
        (cx, cy), (px, py) = points
        r = math.hypot(px - cx, py - cy)
        return _ellipse(cx, cy, r, r)
    return None


def from_labelme(folder):
    """A folder of labelme JSON files (searched recursively), each naming its image by
    ``imagePath`` relative to itself. Shapes with the same label and ``group_id`` form
    one instance (labelme's way of drawing an object in several parts)."""
    builder = CocoBuilder(folder)
    json_files = sorted(
        os.path.join(d, n) for d, _, names in os.walk(folder) for n in names if n.endswith(".json")
    )
    for json_file in json_files:
        with open(json_file, encoding="utf-8") as f:
            content = json.load(f)
        if "imagePath" not in content or "shapes" not in content:
            builder.error(f"{json_file} is not a labelme file (no imagePath or shapes)")
            continue
        image = builder.add_image(os.path.join(os.path.dirname(json_file), content["imagePath"]))
        if image is None:
            continue
        groups = {}
        for index, shape in enumerate(content["shapes"]):
            key = (shape["label"], index if shape.get("group_id") is None else shape["group_id"])
            groups.setdefault(key, []).append((index, shape))
        for (label, _), shapes in groups.items():
            where = f"{json_file}: shape(s) {[i for i, _ in shapes]} ({label!r})"
            category_id = builder.category_id(label)
            if any(shape.get("shape_type") == "mask" for _, shape in shapes):
                mask = np.zeros((image["height"], image["width"]), dtype=bool)
                for _, shape in shapes:
                    mask |= _labelme_mask(shape, image["height"], image["width"])
                builder.add_mask(image, category_id, mask, where)
                continue
            polygons = [
                p for p in (_labelme_polygon(shape) for _, shape in shapes) if p is not None
            ]
            if not polygons:
                builder.skip(f"{shapes[0][1].get('shape_type')} shape has no area", where)
                continue
            builder.add_polygons(image, category_id, polygons, where)
    return builder
