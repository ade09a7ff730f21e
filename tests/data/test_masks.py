"""COCO segmentations from masks (seg_d2.data.masks): exact, polygons only where they
are exact, following pixel edges."""

from seg_d2.data.masks import mask_to_rle, mask_to_segmentation, segmentation_to_mask

import numpy as np
from convert_samples import H, W, _masks


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
