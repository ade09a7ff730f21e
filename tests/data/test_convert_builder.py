"""The COCO builder every converter writes through: numbering in the order added, every
skip counted and named, nothing half-written; label PNGs read as values or colours."""

from seg_d2.data.convert.builder import CocoBuilder, read_label_png
from seg_d2.data.masks import mask_to_rle, mask_to_segmentation
from seg_d2.errors import DatasetError

import numpy as np
import pytest
from convert_samples import H, W, _image, _masks
from PIL import Image
from pycocotools import mask as mask_util


def test_builder_numbers_images_instances_and_classes_in_the_order_added(tmp_path):
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    builder = CocoBuilder(str(tmp_path))
    a, b = builder.add_image(str(tmp_path / "a.png")), builder.add_image(str(tmp_path / "b.png"))
    assert (a, b) == (
        {"id": 1, "file_name": "a.png", "height": H, "width": W},
        {"id": 2, "file_name": "b.png", "height": H, "width": W},
    )
    cell, debris = builder.category_id("cell"), builder.category_id("debris", isthing=False)
    assert (cell, debris, builder.category_id("cell")) == (1, 2, 1)
    with pytest.raises(ValueError, match="category 'cell' is given both as a thing and as stuff"):
        builder.category_id("cell", isthing=False)
    square = _masks()[1]
    builder.add_mask(a, cell, square, "square")
    builder.add_polygons(b, debris, [[2, 2, 10, 2, 10, 6, 2, 6]], "box")
    dataset = builder.dataset()
    rle = mask_to_rle(square)
    assert dataset["annotations"] == [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "segmentation": mask_to_segmentation(square.astype(np.uint8)),
            "area": float(square.sum()),
            "bbox": [float(v) for v in mask_util.toBbox(rle)],
            "iscrowd": 0,
        },
        {
            "id": 2,
            "image_id": 2,
            "category_id": 2,
            "segmentation": [[2.0, 2.0, 10.0, 2.0, 10.0, 6.0, 2.0, 6.0]],
            "area": 32.0,
            "bbox": [2.0, 2.0, 8.0, 4.0],
            "iscrowd": 0,
        },
    ]
    assert dataset["categories"] == [
        {"id": 1, "name": "cell", "isthing": 1},
        {"id": 2, "name": "debris", "isthing": 0},
    ]


def test_builder_counts_logs_and_names_every_skip(tmp_path, caplog):
    for name in ("a.png", "b.png", "c.png"):
        _image(tmp_path / name)
    builder = CocoBuilder(str(tmp_path))
    a = builder.add_image(str(tmp_path / "a.png"))
    builder.add_image(str(tmp_path / "b.png"))
    builder.add_image(str(tmp_path / "c.png"))
    cell = builder.category_id("cell")
    builder.add_mask(a, cell, np.zeros((H, W), bool), "m1")
    builder.add_mask(a, cell, np.zeros((H, W), bool), "m2")
    builder.add_polygons(a, cell, [[0, 0, 5, 0]], "p1")
    builder.add_polygons(a, cell, [[0, 0, 5, 0, 10, 0]], "p2")
    builder.add_mask(a, cell, _masks()[1], "kept")
    builder.add_mask(a, cell, np.zeros((H, W), bool), "m3")
    builder.add_mask(a, cell, np.zeros((H, W), bool), "m4")
    builder.write(str(tmp_path / "out.json"))
    assert builder.skips == {
        "empty mask": 4,
        "polygon of fewer than 3 points": 1,
        "polygon of zero area": 1,
    }
    assert (
        "skipped 6 unusable mask(s)/shape(s) (4 empty mask, 1 polygon of fewer than 3 points, "
        "1 polygon of zero area), e.g.: m1: empty mask; m2: empty mask; p1: polygon of fewer "
        "than 3 points; p2: polygon of zero area; m3: empty mask\n"
    ) in caplog.text  # five examples at most
    assert "2 image(s) have no instance; kept as images without annotations" in caplog.messages


def test_builder_names_each_image_it_cannot_take_and_writes_nothing(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "broken.png").write_bytes(b"not an image")
    _image(tmp_path / "outside.png")
    builder = CocoBuilder(str(tmp_path / "root"))
    assert builder.add_image(str(tmp_path / "root" / "broken.png")) is None
    assert builder.add_image(str(tmp_path / "outside.png")) is None
    assert builder.images == []
    with pytest.raises(DatasetError) as error:
        builder.write(str(tmp_path / "out.json"))
    assert str(error.value) == (
        "2 problem(s) in the input; nothing was written:\n"
        f"  image {tmp_path / 'root' / 'broken.png'} cannot be read (UnidentifiedImageError: "
        f"cannot identify image file '{tmp_path / 'root' / 'broken.png'}')\n"
        f"  image {tmp_path / 'outside.png'} is not inside the image root {tmp_path / 'root'}"
    )
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("mode", ["L", "P", "RGB", "RGBA", "LA"])
def test_label_pngs_read_as_values_or_as_any_colour(tmp_path, mode):
    values = np.zeros((4, 5), np.uint8)
    values[1, 2], values[3, 4] = 3, 200
    if mode in ("L", "P"):  # the values themselves (a palette's indices)
        image = Image.new(mode, (5, 4))
        image.putdata(values.ravel().tolist())
        if mode == "P":
            image.putpalette([255 - v for v in range(256) for _ in range(3)])
    else:  # any non-zero colour channel; the alpha channel is not a label
        pixels = np.zeros((4, 5, len(mode)), np.uint8)
        pixels[1, 2, 0] = 3
        pixels[3, 4, 0 if mode != "RGB" else 2] = 200
        if "A" in mode:
            pixels[..., -1] = 255
        image = Image.fromarray(pixels, mode)
    image.save(tmp_path / "label.png")
    read = read_label_png(str(tmp_path / "label.png"))
    assert read.dtype == np.int64
    np.testing.assert_array_equal(read, values)
