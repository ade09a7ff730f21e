"""``shapes``: the embedded default dataset, generated on first use.

Seeded, synthetic, COCO format: four thing classes (circle, triangle, square,
star) of varied size, colour and texture that overlap and occlude each other, on
a background split into two stuff classes (sky above a wavy horizon, ground
below). Masks are the drawn pixel sets themselves (no anti-aliasing, nothing
traced), occlusion applied, so no two instance masks overlap.

Registered as ``shapes_train`` / ``shapes_val`` (+ ``_sem_seg`` / ``_panoptic`` /
``_panoptic_separated``) under ``$SEG_D2_DATASETS/shapes`` (default ``./datasets/shapes``).
"""

import json
import os

import cv2
import numpy as np
from pycocotools import mask as mask_util

from ..atomic_files import build_folder_once
from .coco import register_coco_dataset
from .masks import mask_to_rle

__all__ = [
    "SHAPES_CATEGORIES",
    "SHAPES_SPLITS",
    "generate_shapes_split",
    "register_shapes",
    "shapes_root",
]

SHAPES_CATEGORIES = [
    {"id": 1, "name": "circle", "isthing": 1},
    {"id": 2, "name": "triangle", "isthing": 1},
    {"id": 4, "name": "square", "isthing": 1},
    {"id": 7, "name": "star", "isthing": 1},
    {"id": 20, "name": "sky", "isthing": 0},
    {"id": 21, "name": "ground", "isthing": 0},
]
# split -> (seed, number of images)
SHAPES_SPLITS = {"train": (0, 300), "val": (1, 100)}
IMAGE_SIZE = 256
# Bump when generation changes, so folders written by older code are generated anew.
SHAPES_VERSION = "shapes 1"
_THINGS = [c for c in SHAPES_CATEGORIES if c["isthing"]]
_SKY, _GROUND = 20, 21
_MIN_VISIBLE_FRACTION = 0.5
_MIN_AREA = 120
_MAX_PLACEMENT_TRIES = 30


def shapes_root():
    return os.path.abspath(os.path.join(os.environ.get("SEG_D2_DATASETS", "datasets"), "shapes"))


def _outline(name, center, radius, angle):
    """Polygon vertices of a shape (circles are drawn by cv2.circle)."""
    if name == "triangle":
        angles, radii = np.arange(3) * 2 * np.pi / 3, np.full(3, radius)
    elif name == "square":
        angles, radii = np.arange(4) * np.pi / 2 + np.pi / 4, np.full(4, radius)
    else:  # a five-pointed star
        angles, radii = np.arange(10) * np.pi / 5, np.tile([radius, radius * 0.45], 5)
    angles = angles + angle
    points = np.stack(
        [center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], axis=1
    )
    return np.round(points).astype(np.int32)


def _draw_mask(name, center, radius, angle):
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    if name == "circle":
        cv2.circle(
            mask,
            (int(center[0]), int(center[1])),
            int(radius),
            1,
            thickness=-1,
            lineType=cv2.LINE_8,
        )
    else:
        cv2.fillPoly(mask, [_outline(name, center, radius, angle)], 1, lineType=cv2.LINE_8)
    return mask.astype(bool)


def _texture(rng, base_colour, kind):
    """An IMAGE_SIZE^2 x 3 float texture around a base colour."""
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    if kind == "stripes":
        period, angle = rng.uniform(6, 16), rng.uniform(0, np.pi)
        wave = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)[..., None]
        pattern = 35 * wave
    elif kind == "gradient":
        pattern = (yy[..., None] / IMAGE_SIZE - 0.5) * 60
    else:
        pattern = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 1))
    noise = rng.normal(0, 10, (IMAGE_SIZE, IMAGE_SIZE, 3))
    return np.asarray(base_colour, float) + pattern + noise


def _annotation(annotation_id, image_id, category_id, mask):
    rle = mask_to_rle(mask)
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": category_id,
        "iscrowd": 0,
        "segmentation": rle,
        "area": int(mask.sum()),
        "bbox": [float(v) for v in mask_util.toBbox(rle)],
    }


def _place_things(rng):
    """Draw-order list of (category, full mask, texture), each at least half visible."""
    placed = []
    for _ in range(rng.integers(2, 7)):
        for _ in range(_MAX_PLACEMENT_TRIES):
            category = _THINGS[rng.integers(len(_THINGS))]
            radius = rng.uniform(14, 52)
            center = rng.uniform(radius * 0.6, IMAGE_SIZE - radius * 0.6, size=2)
            mask = _draw_mask(category["name"], center, radius, rng.uniform(0, 2 * np.pi))
            if mask.sum() < _MIN_AREA:
                continue
            if _keeps_placed_visible(placed, mask):
                colour = rng.integers(0, 256, 3)
                kind = ["solid", "stripes", "noise"][rng.integers(3)]
                placed.append((category, mask, _texture(rng, colour, kind)))
                break
    return placed


def _keeps_placed_visible(placed, mask):
    """Whether each placed shape, less ``mask`` and the shapes drawn after it, keeps at
    least half its pixels and _MIN_AREA of them, so that no annotation is a sliver."""
    return all(
        (earlier & ~mask & ~_later_union(placed, i)).sum()
        >= max(_MIN_VISIBLE_FRACTION * earlier.sum(), _MIN_AREA)
        for i, (_, earlier, _) in enumerate(placed)
    )


def _later_union(placed, index):
    union = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
    for _, mask, _ in placed[index + 1 :]:
        union |= mask
    return union


def _render(rng, image_id, first_annotation_id):
    xs = np.arange(IMAGE_SIZE)
    horizon = IMAGE_SIZE * rng.uniform(0.3, 0.6) + rng.uniform(5, 25) * np.sin(
        2 * np.pi * xs / rng.uniform(80, 300) + rng.uniform(0, 2 * np.pi)
    )
    sky = np.arange(IMAGE_SIZE)[:, None] < horizon[None, :]
    image = np.where(
        sky[..., None],
        _texture(rng, rng.integers([60, 110, 170], [140, 190, 255]), "gradient"),
        _texture(rng, rng.integers([40, 60, 20], [120, 140, 90]), "stripes"),
    )
    owner = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.int32)
    placed = _place_things(rng)
    for k, (_, mask, texture) in enumerate(placed, start=1):
        image[mask] = texture[mask]
        owner[mask] = k
    annotations = []
    for k, (category, _, _) in enumerate(placed, start=1):
        annotations.append(
            _annotation(
                first_annotation_id + len(annotations), image_id, category["id"], owner == k
            )
        )
    for category_id, region in ((_SKY, sky), (_GROUND, ~sky)):
        visible = region & (owner == 0)
        if visible.any():
            annotations.append(
                _annotation(first_annotation_id + len(annotations), image_id, category_id, visible)
            )
    return np.clip(image, 0, 255).astype(np.uint8), annotations


def generate_shapes_split(root, split, seed, num_images):
    """Write ``root/<split>/*.jpg`` and ``root/annotations/instances_<split>.json``."""
    os.makedirs(os.path.join(root, split), exist_ok=True)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        rng = np.random.default_rng([seed, index])
        image_id = index + 1
        pixels, image_annotations = _render(rng, image_id, first_annotation_id=len(annotations) + 1)
        file_name = f"{split}_{index:05d}.jpg"
        ok, encoded = cv2.imencode(".jpg", pixels[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok, file_name
        with open(os.path.join(root, split, file_name), "wb") as f:
            f.write(encoded.tobytes())
        images.append(
            {"id": image_id, "file_name": file_name, "height": IMAGE_SIZE, "width": IMAGE_SIZE}
        )
        annotations.extend(image_annotations)
    with open(os.path.join(root, "annotations", f"instances_{split}.json"), "w") as f:
        json.dump(
            {"images": images, "annotations": annotations, "categories": SHAPES_CATEGORIES},
            f,
            sort_keys=True,
        )


def _ensure_generated(root):
    def build(folder):
        for split, (seed, num_images) in SHAPES_SPLITS.items():
            generate_shapes_split(folder, split, seed, num_images)

    build_folder_once(root, SHAPES_VERSION, build)


def register_shapes(root=None):
    root = root or shapes_root()
    for split in SHAPES_SPLITS:
        register_coco_dataset(
            f"shapes_{split}",
            os.path.join(root, "annotations", f"instances_{split}.json"),
            os.path.join(root, split),
            categories=SHAPES_CATEGORIES,
            prepare=lambda: _ensure_generated(root),
        )
