"""Property-based checks (hypothesis) of the semantic/panoptic ground truth that
seg_d2.data.dense_ground_truth paints from instance masks."""

from seg_d2.data.categories import ClassSpaces
from seg_d2.data.dense_ground_truth import IGNORE_LABEL, paint_image

import numpy as np
import pytest
from helpers import THINGS_AND_STUFF as CATEGORIES
from hypothesis import given
from hypothesis import strategies as st
from pycocotools import mask as mask_util

sizes = st.integers(1, 40)


@st.composite
def annotated_images(draw, categories):
    height, width = draw(sizes), draw(sizes)
    annotations = []
    for k in range(draw(st.integers(0, 5))):
        mask = draw(st.lists(st.booleans(), min_size=height * width, max_size=height * width))
        mask = np.asarray(mask, bool).reshape(height, width)
        annotation = {
            "id": k + 1,
            "category_id": draw(st.sampled_from([c["id"] for c in categories])),
            "iscrowd": int(draw(st.integers(0, 5)) == 0),
            "segmentation": mask_util.encode(np.asfortranarray(mask.astype(np.uint8))),
        }
        if not annotation["iscrowd"] and draw(st.booleans()):
            del annotation["iscrowd"]  # COCO's default: not a crowd
        annotations.append(annotation)
    return {"height": height, "width": width}, annotations


def _reference_painting(image, annotations, class_spaces):
    """What dense_ground_truth.py's docstring promises, pixel by pixel: stuff, then crowd, then
    things in annotation order, each covering what came before."""
    things = set(class_spaces.thing_ids)
    order = (
        [a for a in annotations if a["category_id"] not in things and not a.get("iscrowd", 0)]
        + [a for a in annotations if a.get("iscrowd", 0)]
        + [a for a in annotations if a["category_id"] in things and not a.get("iscrowd", 0)]
    )
    fill = (
        class_spaces.contiguous_id[class_spaces.background_id]
        if class_spaces.has_implicit_background
        else IGNORE_LABEL
    )
    semantic = np.full((image["height"], image["width"]), fill, np.uint8)
    owner = np.full(semantic.shape, -1)
    for annotation in order:
        mask = mask_util.decode(annotation["segmentation"]).astype(bool)
        semantic[mask] = (
            IGNORE_LABEL
            if annotation.get("iscrowd", 0)
            else class_spaces.contiguous_id[annotation["category_id"]]
        )
        owner[mask] = annotation["id"]
    return semantic, owner


@pytest.mark.parametrize(
    "categories", [CATEGORIES, CATEGORIES[:2]], ids=["with_stuff", "things_only"]
)
@given(data=st.data())
def test_derived_ground_truth_agrees_with_the_instance_masks(categories, data):
    image, annotations = data.draw(annotated_images(categories))
    class_spaces = ClassSpaces.from_coco_categories(categories)
    semantic, panoptic, segments = paint_image(image, annotations, class_spaces)
    expected_semantic, owner = _reference_painting(image, annotations, class_spaces)
    assert np.array_equal(semantic, expected_semantic)
    by_id = {s["id"]: s for s in segments}
    assert set(np.unique(panoptic)) - {0} == set(by_id)
    for segment in segments:
        pixels = panoptic == segment["id"]
        assert segment["area"] == int(pixels.sum()) > 0
        ys, xs = np.nonzero(pixels)
        width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        assert segment["bbox"] == [xs.min(), ys.min(), width, height]
        assert segment["iscrowd"] in (0, 1)
        if segment["category_id"] in class_spaces.thing_ids or segment["iscrowd"]:
            # a thing or crowd segment is its annotation's mask less what later ones cover
            owners = set(np.unique(owner[pixels]).tolist())
            assert len(owners) == 1
            (owner_id,) = owners
            annotation = next(a for a in annotations if a["id"] == owner_id)
            assert np.array_equal(pixels, owner == owner_id)
            assert annotation["category_id"] == segment["category_id"]
        else:
            # pixels of the segment carry its class in the semantic map
            expected = (
                IGNORE_LABEL
                if segment["iscrowd"]
                else class_spaces.contiguous_id[segment["category_id"]]
            )
            assert (semantic[pixels] == expected).all()


def test_an_annotation_without_pixels_painted_last_gets_no_segment():
    """Its segment id is the highest and no pixel carries it: dropped, like a hidden one."""
    class_spaces = ClassSpaces.from_coco_categories(CATEGORIES)
    square, empty = np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)
    square[1:3, 1:3] = 1
    annotations = [
        {"id": k, "category_id": 1, "segmentation": mask_util.encode(np.asfortranarray(m))}
        for k, m in ((1, square), (2, empty))
    ]
    _, panoptic, segments = paint_image({"height": 4, "width": 4}, annotations, class_spaces)
    assert [(s["id"], s["area"]) for s in segments] == [(1, 4)]
    assert set(np.unique(panoptic)) == {0, 1}
