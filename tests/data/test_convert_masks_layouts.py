"""The mask converters (mask folders, instance PNGs, semantic PNGs): masks round-trip
pixel for pixel, bad input is named or counted, nothing half-written; layouts as
published: label files named like their image with a suffix (PennFudan's
``PedMasks/FudanPed00001_mask.png``) pair by one command, saying which rule paired them;
folders that do not pair at all are one error."""

import json
import logging

from seg_d2.cli import main
from seg_d2.data.convert import from_instance_pngs, from_mask_folders, from_semantic_pngs
from seg_d2.data.convert.masks_layouts import _read_class_names
from seg_d2.errors import DatasetError

import numpy as np
import pytest
from convert_samples import (
    H,
    W,
    _decoded,
    _image,
    _instance_ids,
    _instance_pngs_in_class_folders,
    _instance_pngs_with_a_class_map,
    _mask_folders,
    _masks,
    _save,
    _semantic_pngs,
)
from PIL import Image


def _pennfudan(root):
    """PennFudan's layout: PNGImages/<name>.png, PedMasks/<name>_mask.png (instance ids)."""
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for index, people in ((1, 2), (2, 1)):
        name = f"FudanPed{index:05d}"
        Image.new("RGB", (60, 40), (90, 90, 90)).save(root / "PNGImages" / f"{name}.png")
        ids = np.zeros((40, 60), np.uint8)
        for person in range(1, people + 1):
            ids[5:35, 20 * person - 15 : 20 * person] = person
        Image.fromarray(ids).save(root / "PedMasks" / f"{name}_mask.png")


def test_pennfudan_as_published_converts_with_one_command(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    _pennfudan(tmp_path)
    output = tmp_path / "pennfudan.json"
    status = main(
        ["convert", "instance-png", str(tmp_path / "PNGImages"), str(tmp_path / "PedMasks")]
        + ["--category", "person", "--output", str(output)]
    )
    assert status == 0
    dataset = json.loads(output.read_text())
    assert [image["file_name"] for image in dataset["images"]] == [
        "FudanPed00001.png",
        "FudanPed00002.png",
    ]
    assert len(dataset["annotations"]) == 3
    assert [c["name"] for c in dataset["categories"]] == ["person"]
    assert "instance PNG files matched to their images by name with '_mask' removed" in (
        caplog.text
    )


def test_folders_that_do_not_pair_at_all_are_one_error(tmp_path):
    _pennfudan(tmp_path)
    for path in (tmp_path / "PedMasks").iterdir():
        path.rename(path.with_name(path.name.replace("FudanPed", "Other")))
    with pytest.raises(SystemExit) as ended:
        main(
            ["convert", "instance-png", str(tmp_path / "PNGImages"), str(tmp_path / "PedMasks")]
            + ["--output", str(tmp_path / "out.json")]
        )
    assert ended.value.code == (
        "error: 1 problem(s) in the input; nothing was written:\n"
        f"  no image in {tmp_path / 'PNGImages'} has its instance PNG in "
        f"{tmp_path / 'PedMasks'} by name (images such as FudanPed00001.png, instance PNGs such "
        "as Other00001_mask.png): are these the right folders?"
    )
    assert not (tmp_path / "out.json").exists()


def _same_masks(decoded, expected):
    assert len(decoded) == len(expected)
    for (_, mask), want in zip(decoded, expected):
        np.testing.assert_array_equal(mask.astype(bool), want)


def _semantic(tmp_path, with_instances):
    labels = _semantic_pngs(tmp_path)
    builder = from_semantic_pngs(
        str(tmp_path / "images"),
        str(tmp_path / "labels"),
        "0=background,1=cell,2=debris",
        instances_dir=str(tmp_path / "ids") if with_instances else None,
        things=["cell"],
    )
    builder.write(str(tmp_path / "out.json"))
    return _decoded(tmp_path / "out.json")["x.png"], labels


def test_mask_folders_round_trip(tmp_path):
    _mask_folders(tmp_path / "data")
    builder = from_mask_folders(str(tmp_path / "data"), category="nucleus")
    builder.write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")
    assert sorted(decoded) == ["a/images/a.png", "b/images/b.png"]
    _same_masks(decoded["a/images/a.png"], _masks())
    assert {name for name, _ in decoded["a/images/a.png"]} == {"nucleus"}


def test_mask_of_the_wrong_size_is_named_and_nothing_is_written(tmp_path):
    masks = _masks() + [np.ones((H + 1, W), bool)]
    _mask_folders(tmp_path / "data", masks)
    builder = from_mask_folders(str(tmp_path / "data"))
    with pytest.raises(
        DatasetError,
        match=r"a/masks/3\.png: the mask is 48x41 but its image a/images/a\.png is 48x40",
    ):
        builder.write(str(tmp_path / "out.json"))
    assert not (tmp_path / "out.json").exists()


def test_empty_mask_is_a_counted_skip(tmp_path, caplog):
    _mask_folders(tmp_path / "data", _masks() + [np.zeros((H, W), bool)])
    builder = from_mask_folders(str(tmp_path / "data"))
    builder.write(str(tmp_path / "out.json"))
    assert builder.skips == {"empty mask": 1}
    assert "skipped 1 unusable" in caplog.text and "a/masks/3.png" in caplog.text
    assert len(_decoded(tmp_path / "out.json")["a/images/a.png"]) == 3


def test_sample_without_exactly_one_image_is_named(tmp_path):
    _mask_folders(tmp_path / "data")
    _image(tmp_path / "data" / "a" / "images" / "second.png")
    with pytest.raises(DatasetError, match=r"a/images holds 2 images, not 1"):
        from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "out.json"))


def test_instance_pngs_round_trip_with_a_class_map(tmp_path):
    class_map = _instance_pngs_with_a_class_map(tmp_path)
    from_instance_pngs(
        str(tmp_path / "images"), str(tmp_path / "ids"), class_map=str(class_map)
    ).write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")["x.jpg"]
    _same_masks(decoded, _masks())
    assert [name for name, _ in decoded] == ["ring", "box", "ring"]


def test_instance_pngs_take_the_class_from_the_folder(tmp_path):
    _instance_pngs_in_class_folders(tmp_path)
    from_instance_pngs(
        str(tmp_path / "images"), str(tmp_path / "ids"), class_from_folder=True
    ).write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")
    assert [name for name, _ in decoded["cat/x.png"]] == ["cat"] and [
        n for n, _ in decoded["dog/x.png"]
    ] == ["dog"]


def test_instance_ids_that_do_not_match_the_class_map_are_named(tmp_path):
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids(_masks()))
    class_map = tmp_path / "classes.json"
    class_map.write_text(json.dumps({"x": {"1": "a", "2": "a", "7": "a"}}))
    with pytest.raises(
        DatasetError, match=r"instance ids \[3\] have no class in the class map, and its ids \[7\]"
    ):
        from_instance_pngs(
            str(tmp_path / "images"), str(tmp_path / "ids"), class_map=str(class_map)
        ).write(str(tmp_path / "out.json"))


def test_image_and_label_files_that_do_not_pair_are_named(tmp_path):
    _image(tmp_path / "images" / "x.png")
    _image(tmp_path / "images" / "y.png")
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids(_masks()))
    _save(str(tmp_path / "ids" / "z.png"), _instance_ids(_masks()))
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(str(tmp_path / "images"), str(tmp_path / "ids")).write(
            str(tmp_path / "out.json")
        )
    assert "images/y.png has no instance PNG" in str(error.value)
    assert "ids/z.png has no image" in str(error.value)


def test_semantic_pngs_with_instance_pngs_give_touching_things_and_stuff(tmp_path):
    decoded, labels = _semantic(tmp_path, with_instances=True)
    ring, square, parts = _masks()
    by_class = {}
    for name, mask in decoded:
        by_class.setdefault(name, []).append(mask.astype(bool))
    _same_masks([("cell", m) for m in by_class["cell"]], [ring, square])  # touching, kept apart
    np.testing.assert_array_equal(by_class["debris"][0], parts)
    np.testing.assert_array_equal(by_class["background"][0], labels == 0)
    with open(tmp_path / "out.json") as f:
        assert {c["name"]: c["isthing"] for c in json.load(f)["categories"]} == {
            "background": 0,
            "cell": 1,
            "debris": 0,
        }


def test_semantic_pngs_alone_split_things_into_connected_components(tmp_path):
    decoded, _ = _semantic(tmp_path, with_instances=False)
    cells = [mask for name, mask in decoded if name == "cell"]
    ring, square, _ = _masks()
    assert len(cells) == 1  # the square touches the ring: one component
    np.testing.assert_array_equal(cells[0].astype(bool), ring | square)


def test_semantic_value_outside_the_classes_is_named(tmp_path):
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "labels" / "x.png"), np.full((H, W), 9, np.uint8))
    with pytest.raises(DatasetError, match=r"labels/x\.png: values \[9\] are not in the classes"):
        from_semantic_pngs(str(tmp_path / "images"), str(tmp_path / "labels"), "0=bg,1=cell").write(
            str(tmp_path / "out.json")
        )


def test_class_names_come_from_pairs_or_from_a_file_of_lines(tmp_path):
    assert _read_class_names("0=bg, 1 = cell ,7=red cell") == {0: "bg", 1: "cell", 7: "red cell"}
    by_line = tmp_path / "by_line.txt"
    by_line.write_text("background\n\nnucleus\ncell wall\n")
    assert _read_class_names(str(by_line)) == {0: "background", 1: "nucleus", 2: "cell wall"}
    by_value = tmp_path / "by_value.txt"
    by_value.write_text("0 background\n5 red blood cell\n")
    assert _read_class_names(str(by_value)) == {0: "background", 5: "red blood cell"}
    with pytest.raises(
        ValueError, match=r"--classes 'bg,cell': expected value=name pairs or a file of class names"
    ):
        _read_class_names("bg,cell")


def test_semantic_things_must_be_among_the_classes(tmp_path):
    _semantic_pngs(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"thing classes \['cat', 'dog'\] are not among the classes \['background', 'cell'\]",
    ):
        from_semantic_pngs(
            str(tmp_path / "images"),
            str(tmp_path / "labels"),
            "0=background,1=cell",
            things=["dog", "cell", "cat"],
        )


def test_unpaired_files_and_class_map_mismatches_are_each_named(tmp_path):
    for stem in ("a", "b", "c", "d"):
        _image(tmp_path / "images" / f"{stem}.png")
        _save(str(tmp_path / "ids" / f"{stem}.png"), _instance_ids(_masks()[:2]))
    _image(tmp_path / "images" / "lonely.png")
    _save(str(tmp_path / "ids" / "orphan.png"), _instance_ids(_masks()[:2]))
    class_map = tmp_path / "classes.json"
    class_map.write_text(
        json.dumps(
            {"a": {"1": "x"}, "b": {"1": "x", "2": "x", "3": "x"}, "c": {"1": "x", "3": "x"}}
        )
    )
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(
            str(tmp_path / "images"), str(tmp_path / "ids"), class_map=str(class_map)
        ).write(str(tmp_path / "out.json"))
    ids = tmp_path / "ids"
    assert str(error.value).splitlines() == [
        "6 problem(s) in the input; nothing was written:",
        f"  image {tmp_path / 'images' / 'lonely.png'} has no instance PNG in {ids}",
        f"  instance PNG {ids / 'orphan.png'} has no image in {tmp_path / 'images'}",
        f"  instance PNG {ids / 'a.png'}: instance ids [2] have no class in the class map",
        f"  instance PNG {ids / 'b.png'}: the class map's ids [3] are not in the PNG",
        f"  instance PNG {ids / 'c.png'}: instance ids [2] have no class in the class map, "
        "and its ids [3] are not in the PNG",
        f"  instance PNG {ids / 'd.png'}: the class map has no entry 'd'",
    ]


def test_images_outside_class_folders_are_named_and_empty_id_pngs_kept(tmp_path):
    _instance_pngs_in_class_folders(tmp_path)
    _image(tmp_path / "images" / "cat" / "empty.png")
    _save(str(tmp_path / "ids" / "cat" / "empty.png"), np.zeros((H, W), np.uint8))
    builder = from_instance_pngs(
        str(tmp_path / "images"), str(tmp_path / "ids"), class_from_folder=True
    )
    builder.write(str(tmp_path / "out.json"))
    decoded = _decoded(tmp_path / "out.json")
    assert {name: len(found) for name, found in decoded.items()} == {
        "cat/empty.png": 0,
        "cat/x.png": 1,
        "dog/x.png": 1,
    }
    for top in ("top", "top2"):
        _image(tmp_path / "images" / f"{top}.png")
        _save(str(tmp_path / "ids" / f"{top}.png"), _instance_ids(_masks()[:1]).astype(np.uint8))
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(
            str(tmp_path / "images"), str(tmp_path / "ids"), class_from_folder=True
        ).write(str(tmp_path / "out2.json"))
    assert str(error.value).splitlines()[1:] == [
        f"  image {tmp_path / 'images' / top}.png is not in a class folder under "
        f"{tmp_path / 'images'}"
        for top in ("top", "top2")
    ]


def test_mask_folders_pass_over_stray_files_and_name_each_broken_sample(tmp_path):
    _mask_folders(tmp_path / "data")
    (tmp_path / "data" / "README.txt").write_text("not a sample")
    from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "out.json"))
    assert sorted(_decoded(tmp_path / "out.json")) == ["a/images/a.png", "b/images/b.png"]
    for sample in ("c", "d"):
        (tmp_path / "data" / sample / "images").mkdir(parents=True)
        (tmp_path / "data" / sample / "images" / f"{sample}.png").write_bytes(b"broken")
    with pytest.raises(DatasetError) as error:
        from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "out2.json"))
    assert [line.split(" cannot be read")[0] for line in str(error.value).splitlines()[1:]] == [
        f"  image {tmp_path / 'data' / sample / 'images' / sample}.png" for sample in ("c", "d")
    ]


def test_class_names_keep_everything_after_the_first_equals_sign():
    assert _read_class_names("0=bg,1=a=b") == {0: "bg", 1: "a=b"}


def test_semantic_labels_of_the_wrong_size_are_named_per_region(tmp_path):
    _image(tmp_path / "images" / "x.png")
    labels = np.zeros((H + 1, W), np.uint8)
    labels[2:6, 2:6] = 1
    _save(str(tmp_path / "labels" / "x.png"), labels)
    _save(str(tmp_path / "ids" / "x.png"), (labels == 1).astype(np.uint8))
    label_file = tmp_path / "labels" / "x.png"
    size = f"the mask is {W}x{H + 1} but its image x.png is {W}x{H}"
    for instances, cell in ((None, "component 1 of"), (str(tmp_path / "ids"), "instance 1 in")):
        with pytest.raises(DatasetError) as error:
            from_semantic_pngs(
                str(tmp_path / "images"),
                str(tmp_path / "labels"),
                "0=bg,1=cell",
                instances_dir=instances,
                things=["cell"],
            ).write(str(tmp_path / "out.json"))
        assert str(error.value).splitlines()[1:] == [
            f"  class 'bg' of {label_file}: {size}",
            f"  {cell} class 'cell' of {label_file}: {size}",
        ]


def test_semantic_pngs_name_every_unpaired_file_and_every_bad_label_file(tmp_path):
    for stem in ("a", "b", "c"):
        _image(tmp_path / "images" / f"{stem}.png")
    _save(str(tmp_path / "labels" / "a.png"), np.full((H, W), 7, np.uint8))
    _save(str(tmp_path / "labels" / "b.png"), np.full((H, W), 9, np.uint8))
    _save(str(tmp_path / "labels" / "z.png"), np.zeros((H, W), np.uint8))
    _save(str(tmp_path / "ids" / "a.png"), np.zeros((H, W), np.uint8))
    with pytest.raises(DatasetError) as error:
        from_semantic_pngs(
            str(tmp_path / "images"),
            str(tmp_path / "labels"),
            "0=bg",
            instances_dir=str(tmp_path / "ids"),
        ).write(str(tmp_path / "out.json"))
    images, labels, ids = (tmp_path / d for d in ("images", "labels", "ids"))
    assert str(error.value).splitlines()[1:] == [
        f"  image {images / 'b.png'} has no instance PNG in {ids}",
        f"  image {images / 'c.png'} has no instance PNG in {ids}",
        f"  image {images / 'c.png'} has no label PNG in {labels}",
        f"  label PNG {labels / 'z.png'} has no image in {images}",
        f"  label PNG {labels / 'a.png'}: values [7] are not in the classes",
        f"  label PNG {labels / 'b.png'}: values [9] are not in the classes",
    ]


def test_masks_of_value_1_count_and_broken_images_do_not_stop_the_others(tmp_path):
    _image(tmp_path / "images" / "a.png")
    (tmp_path / "images" / "b.png").write_bytes(b"broken")
    (tmp_path / "images" / "c.png").write_bytes(b"broken")
    for stem in "abc":
        _save(str(tmp_path / "ids" / f"{stem}.png"), _instance_ids(_masks()[:1]).astype(np.uint8))
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(str(tmp_path / "images"), str(tmp_path / "ids")).write(
            str(tmp_path / "out.json")
        )
    assert [line.split(" cannot")[0] for line in str(error.value).splitlines()[1:]] == [
        f"  image {tmp_path / 'images' / stem}.png" for stem in "bc"
    ]
    _mask_folders(tmp_path / "folders")
    _save(str(tmp_path / "folders" / "b" / "masks" / "0.png"), _masks()[0].astype(np.uint8))
    from_mask_folders(str(tmp_path / "folders")).write(str(tmp_path / "folders.json"))
    ((_, mask),) = _decoded(tmp_path / "folders.json")["b/images/b.png"]
    np.testing.assert_array_equal(mask.astype(bool), _masks()[0])


def test_instance_pngs_of_another_size_than_their_image_are_named(tmp_path):
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "ids" / "x.png"), np.ones((H + 1, W), np.uint8))
    with pytest.raises(DatasetError) as error:
        from_instance_pngs(str(tmp_path / "images"), str(tmp_path / "ids")).write(
            str(tmp_path / "out.json")
        )
    assert str(error.value).splitlines()[1:] == [
        f"  instance 1 of {tmp_path / 'ids' / 'x.png'}: the mask is {W}x{H + 1} but its image "
        f"x.png is {W}x{H}"
    ]


def test_converters_called_without_a_class_name_it_is_object(tmp_path):
    _mask_folders(tmp_path / "folders")
    from_mask_folders(str(tmp_path / "folders")).write(str(tmp_path / "folders.json"))
    _image(tmp_path / "images" / "x.png")
    _save(str(tmp_path / "ids" / "x.png"), _instance_ids(_masks()))
    from_instance_pngs(str(tmp_path / "images"), str(tmp_path / "ids")).write(
        str(tmp_path / "ids.json")
    )
    for written in ("folders.json", "ids.json"):
        with open(tmp_path / written) as f:
            assert [c["name"] for c in json.load(f)["categories"]] == ["object"], written


def test_every_sample_without_one_image_and_every_unreadable_image_is_named(tmp_path):
    for sample, count in (("a", 0), ("b", 2)):
        (tmp_path / "data" / sample / "images").mkdir(parents=True)
        for k in range(count):
            _image(tmp_path / "data" / sample / "images" / f"{k}.png")
    with pytest.raises(DatasetError) as error:
        from_mask_folders(str(tmp_path / "data")).write(str(tmp_path / "out.json"))
    assert str(error.value).splitlines()[1:] == [
        f"  {tmp_path / 'data' / sample / 'images'} holds {count} images, not 1"
        for sample, count in (("a", 0), ("b", 2))
    ]
    for stem in "ab":
        (tmp_path / "images" / f"{stem}.png").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "images" / f"{stem}.png").write_bytes(b"broken")
        _save(str(tmp_path / "labels" / f"{stem}.png"), np.zeros((H, W), np.uint8))
    with pytest.raises(DatasetError) as error:
        from_semantic_pngs(str(tmp_path / "images"), str(tmp_path / "labels"), "0=bg").write(
            str(tmp_path / "out.json")
        )
    assert [line.split(" cannot")[0] for line in str(error.value).splitlines()[1:]] == [
        f"  image {tmp_path / 'images' / stem}.png" for stem in "ab"
    ]
