"""Property-based checks (hypothesis) of the data conversions seg_d2 relies on: COCO
segmentations to masks and back, semantic/panoptic ground truth derived from instance
masks, the category layouts."""

from seg_d2.data.categories import CategoryLayout, thing_dataset_ids
from seg_d2.data.derived import IGNORE_LABEL, paint_image
from seg_d2.data.masks import segmentation_to_mask, segmentation_to_rle

import numpy as np
import pytest
from detectron2.data.catalog import Metadata
from hypothesis import given
from hypothesis import strategies as st
from pycocotools import mask as mask_util

sizes = st.integers(1, 40)


@st.composite
def polygons(draw, height, width):
    """3 to 8 vertices, some of them up to 5 pixels off the image."""
    n = draw(st.integers(3, 8))
    xs = draw(st.lists(st.floats(-5, width + 5, allow_nan=False), min_size=n, max_size=n))
    ys = draw(st.lists(st.floats(-5, height + 5, allow_nan=False), min_size=n, max_size=n))
    return [v for xy in zip(xs, ys) for v in xy]


@st.composite
def polygon_cases(draw):
    height, width = draw(sizes), draw(sizes)
    return height, width, draw(st.lists(polygons(height, width), min_size=1, max_size=3))


def _uncompressed_rle(mask):
    """COCO's uncompressed RLE (run lengths, column-major, starting with a 0-run): the
    test's own reference, since pycocotools only writes the compressed form."""
    flat = np.asfortranarray(mask).ravel(order="F").astype(np.int8)
    changes = np.flatnonzero(
        np.diff(np.concatenate([[0], flat, [1 - flat[-1] if flat.size else 0]]))
    )
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    return {"size": list(mask.shape), "counts": counts}


@given(polygon_cases())
def test_polygon_to_rle_to_mask_round_trips(case):
    height, width, polygon_list = case
    rle = segmentation_to_rle(polygon_list, height, width)
    mask = mask_util.decode(rle)
    assert mask.shape == (height, width)
    assert int(mask_util.area(rle)) == int(mask.sum())
    again = mask_util.encode(np.asfortranarray(mask))
    assert again["counts"] == rle["counts"] and list(again["size"]) == [height, width]
    # Every COCO form of the same mask gives the same pixels.
    assert np.array_equal(
        segmentation_to_mask(_uncompressed_rle(mask.astype(bool)), height, width), mask
    )
    assert np.array_equal(segmentation_to_mask(again, height, width), mask)
    # The union of polygons is what each polygon covers.
    union = np.zeros_like(mask)
    for polygon in polygon_list:
        union |= mask_util.decode(mask_util.frPyObjects([polygon], height, width)[0])
    assert np.array_equal(union, mask)


CATEGORIES = [
    {"id": 1, "name": "a", "isthing": 1},
    {"id": 3, "name": "b", "isthing": 1},
    {"id": 8, "name": "road", "isthing": 0},
]


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


def _reference_painting(image, annotations, layout):
    """What derived.py's docstring promises, pixel by pixel: stuff, then crowd, then
    things in annotation order, each covering what came before."""
    things = set(layout.thing_ids)
    order = (
        [a for a in annotations if a["category_id"] not in things and not a.get("iscrowd", 0)]
        + [a for a in annotations if a.get("iscrowd", 0)]
        + [a for a in annotations if a["category_id"] in things and not a.get("iscrowd", 0)]
    )
    fill = (
        layout.contiguous_id[layout.background_id]
        if layout.has_implicit_background
        else IGNORE_LABEL
    )
    semantic = np.full((image["height"], image["width"]), fill, np.uint8)
    owner = np.full(semantic.shape, -1)
    for annotation in order:
        mask = mask_util.decode(annotation["segmentation"]).astype(bool)
        semantic[mask] = (
            IGNORE_LABEL
            if annotation.get("iscrowd", 0)
            else layout.contiguous_id[annotation["category_id"]]
        )
        owner[mask] = annotation["id"]
    return semantic, owner


@pytest.mark.parametrize(
    "categories", [CATEGORIES, CATEGORIES[:2]], ids=["with_stuff", "things_only"]
)
@given(data=st.data())
def test_derived_ground_truth_agrees_with_the_instance_masks(categories, data):
    image, annotations = data.draw(annotated_images(categories))
    layout = CategoryLayout.from_coco_categories(categories)
    semantic, panoptic, segments = paint_image(image, annotations, layout)
    expected_semantic, owner = _reference_painting(image, annotations, layout)
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
        if segment["category_id"] in layout.thing_ids or segment["iscrowd"]:
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
                IGNORE_LABEL if segment["iscrowd"] else layout.contiguous_id[segment["category_id"]]
            )
            assert (semantic[pixels] == expected).all()


def test_an_annotation_without_pixels_painted_last_gets_no_segment():
    """Its segment id is the highest and no pixel carries it: dropped, like a hidden one."""
    layout = CategoryLayout.from_coco_categories(CATEGORIES)
    square, empty = np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)
    square[1:3, 1:3] = 1
    annotations = [
        {"id": k, "category_id": 1, "segmentation": mask_util.encode(np.asfortranarray(m))}
        for k, m in ((1, square), (2, empty))
    ]
    _, panoptic, segments = paint_image({"height": 4, "width": 4}, annotations, layout)
    assert [(s["id"], s["area"]) for s in segments] == [(1, 4)]
    assert set(np.unique(panoptic)) == {0, 1}


def test_panoptic_metadata_of_both_layouts():
    """Unified: every class is a stuff class too (detectron2's COCO panoptic convention).
    Separated: label 0 is "things", dataset id 0 unless a category uses 0."""
    layout = CategoryLayout.from_coco_categories(CATEGORIES)
    unified, separated = layout.panoptic_metadata(), layout.separated_metadata()
    assert unified["stuff_classes"] == ["a", "b", "road"]
    assert unified["stuff_dataset_id_to_contiguous_id"] == {1: 0, 3: 1, 8: 2}
    assert separated["stuff_classes"] == ["things", "road"]
    assert separated["stuff_dataset_id_to_contiguous_id"] == {0: 0, 8: 1}
    with_zero = CategoryLayout.from_coco_categories(
        [{"id": 0, "name": "z", "isthing": 1}, *CATEGORIES]
    ).separated_metadata()
    assert with_zero["stuff_dataset_id_to_contiguous_id"] == {9: 0, 8: 1}


def test_thing_dataset_ids_invert_the_thing_mapping_and_are_empty_without_things():
    assert thing_dataset_ids(Metadata(thing_dataset_id_to_contiguous_id={5: 0, 9: 1})) == {
        0: 5,
        1: 9,
    }
    assert thing_dataset_ids(Metadata(stuff_classes=["sky"])) == {}
