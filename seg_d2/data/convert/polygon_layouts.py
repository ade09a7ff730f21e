"""Layouts that give instances as polygons: VIA (VGG Image Annotator) and labelme JSON."""

import base64
import binascii
import io
import json
import math
import os

import numpy as np
from PIL import Image

from .builder import CocoBuilder

__all__ = ["from_labelme", "from_via"]

_CIRCLE_POINTS = 32


class _ShapeError(ValueError):
    """A malformed shape; the converter reports it with the file and the shape."""


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _ShapeError(f"{what} must be a finite number, not {value!r}")
    return value


def _fields(shape, kind, names):
    missing = [name for name in names if name not in shape]
    if missing:
        raise _ShapeError(f"a {kind} needs {', '.join(names)}; {', '.join(missing)} missing")
    return [_number(shape[name], f"{kind} {name}") for name in names]


def _points(points, kind, count=None):
    """``points`` as [[x, y], ...], checked: pairs of numbers, ``count`` of them if given."""
    if not isinstance(points, list) or not all(
        isinstance(point, list) and len(point) == 2 for point in points
    ):
        raise _ShapeError(f"{kind} points must be a list of [x, y] pairs, not {points!r}")
    if count is not None and len(points) != count:
        raise _ShapeError(f"a {kind} has {count} points, not {len(points)}")
    return [[_number(v, f"{kind} coordinate") for v in point] for point in points]


def _ellipse(cx, cy, rx, ry, theta=0.0):
    angles = np.linspace(0, 2 * math.pi, _CIRCLE_POINTS, endpoint=False)
    x, y = rx * np.cos(angles), ry * np.sin(angles)
    xs = cx + x * math.cos(theta) - y * math.sin(theta)
    ys = cy + x * math.sin(theta) + y * math.cos(theta)
    return np.stack([xs, ys], axis=1).ravel().tolist()


def _via_polygon(shape):
    """A VIA region's shape as one polygon, or None for a shape that has no area."""
    if not isinstance(shape, dict):
        raise _ShapeError(f"'shape_attributes' must be an object, not {shape!r}")
    kind = shape.get("name")
    if kind == "polygon":
        xs, ys = shape.get("all_points_x"), shape.get("all_points_y")
        if not (isinstance(xs, list) and isinstance(ys, list)):
            raise _ShapeError("a polygon needs the lists all_points_x and all_points_y")
        if len(xs) != len(ys):
            raise _ShapeError(
                f"all_points_x has {len(xs)} values and all_points_y {len(ys)}: not (x, y) pairs"
            )
        return [_number(v, "polygon coordinate") for xy in zip(xs, ys) for v in xy]
    if kind == "rect":
        x, y, w, h = _fields(shape, kind, ("x", "y", "width", "height"))
        return [x, y, x + w, y, x + w, y + h, x, y + h]
    if kind == "circle":
        cx, cy, r = _fields(shape, kind, ("cx", "cy", "r"))
        return _ellipse(cx, cy, r, r)
    if kind == "ellipse":
        cx, cy, rx, ry = _fields(shape, kind, ("cx", "cy", "rx", "ry"))
        return _ellipse(cx, cy, rx, ry, _number(shape.get("theta", 0.0), "ellipse theta"))
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
            if not isinstance(region, dict) or "shape_attributes" not in region:
                builder.error(f"{where}: the region has no 'shape_attributes'")
                continue
            try:
                polygon = _via_polygon(region["shape_attributes"])
            except _ShapeError as error:
                builder.error(f"{where}: {error}")
                continue
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
    (x0, y0), _ = _points(shape.get("points"), "mask", 2)
    try:
        box = np.asarray(Image.open(io.BytesIO(base64.b64decode(shape["mask"], validate=True))))
    except (KeyError, TypeError, binascii.Error, OSError) as error:
        raise _ShapeError(f"its 'mask' is not a base64 PNG ({type(error).__name__})") from None
    box = box > 0
    mask = np.zeros((height, width), dtype=bool)
    x0, y0 = int(round(x0)), int(round(y0))
    mask[y0 : y0 + box.shape[0], x0 : x0 + box.shape[1]] = box[: height - y0, : width - x0]
    return mask


def _labelme_polygon(shape):
    kind = shape.get("shape_type") or "polygon"
    if kind == "polygon":
        return [v for point in _points(shape.get("points"), kind) for v in point]
    if kind == "rectangle":
        (x0, y0), (x1, y1) = _points(shape.get("points"), kind, 2)
        return [x0, y0, x1, y0, x1, y1, x0, y1]
    if kind == "circle":
        (cx, cy), (px, py) = _points(shape.get("points"), "circle (centre, a point on it)", 2)
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
            label = shape.get("label") if isinstance(shape, dict) else None
            if not isinstance(label, str) or not label:
                builder.error(f"{json_file}: shape {index}: 'label' must be a name, not {label!r}")
                continue
            key = (label, index if shape.get("group_id") is None else shape["group_id"])
            groups.setdefault(key, []).append((index, shape))
        for (label, _), shapes in groups.items():
            where = f"{json_file}: shape(s) {[i for i, _ in shapes]} ({label!r})"
            try:
                _add_labelme_instance(builder, image, label, [shape for _, shape in shapes], where)
            except _ShapeError as error:
                builder.error(f"{where}: {error}")
    return builder


def _add_labelme_instance(builder, image, label, shapes, where):
    """One instance of ``shapes`` (the parts of one object) into ``builder``."""
    category_id = builder.category_id(label)
    if any(shape.get("shape_type") == "mask" for shape in shapes):
        mask = np.zeros((image["height"], image["width"]), dtype=bool)
        for shape in shapes:
            mask |= _labelme_mask(shape, image["height"], image["width"])
        builder.add_mask(image, category_id, mask, where)
        return
    polygons = [p for p in map(_labelme_polygon, shapes) if p is not None]
    if not polygons:
        builder.skip(f"{shapes[0].get('shape_type')} shape has no area", where)
        return
    builder.add_polygons(image, category_id, polygons, where)
