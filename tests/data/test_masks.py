"""COCO segmentations and masks (seg_d2.data.masks): from masks exact, polygons only
where they are exact, following pixel edges; to masks, every COCO form of one mask alike."""

from seg_d2.data.masks import (
    mask_to_rle,
    mask_to_segmentation,
    segmentation_to_mask,
    segmentation_to_rle,
)

import numpy as np
from convert_samples import H, W, _masks
from hypothesis import given
from hypothesis import strategies as st
from pycocotools import mask as mask_util


def test_mask_to_segmentation_is_exact_and_uses_polygons_only_where_they_are():
    ring, square, parts = _masks()
    assert isinstance(mask_to_segmentation(square), list)  # a plain region: polygons
    assert isinstance(mask_to_segmentation(parts), list)  # two separate parts: two polygons
    assert isinstance(mask_to_segmentation(ring), dict)  # a hole: RLE
    for mask in (ring, square, parts):
        np.testing.assert_array_equal(segmentation_to_mask(mask_to_segmentation(mask), H, W), mask)


def test_mask_polygons_follow_pixel_edges():
    mask = np.zeros((6, 6), np.uint8)
    mask[1:3, 1:4] = 1
    (polygon,) = mask_to_segmentation(mask)
    corners = set(zip(polygon[::2], polygon[1::2]))
    assert corners == {(1, 1), (4, 1), (4, 3), (1, 3)}


def test_masks_given_as_booleans_encode_like_uint8(tmp_path):
    mask = _masks()[0]
    assert mask_to_rle(mask) == mask_to_rle(mask.astype(np.uint8))


def test_random_blobs_round_trip_through_their_polygons():
    rng = np.random.default_rng(0)
    for _ in range(30):
        noise = rng.random((24, 30))
        mask = (noise > 0.55).astype(np.uint8)
        np.testing.assert_array_equal(
            segmentation_to_mask(mask_to_segmentation(mask), 24, 30), mask
        )


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
