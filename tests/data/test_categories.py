"""How a COCO category list becomes detectron2's class spaces (seg_d2.data.categories)."""

from seg_d2.data.categories import ClassSpaces, thing_dataset_ids

from detectron2.data.catalog import Metadata
from helpers import THINGS_AND_STUFF as CATEGORIES


def test_panoptic_metadata_of_both_class_spaces():
    """Unified: every class is a stuff class too (detectron2's COCO panoptic convention).
    Separated: label 0 is "things", dataset id 0 unless a category uses 0."""
    class_spaces = ClassSpaces.from_coco_categories(CATEGORIES)
    unified, separated = class_spaces.panoptic_metadata(), class_spaces.separated_metadata()
    assert unified["stuff_classes"] == ["a", "b", "road"]
    assert unified["stuff_dataset_id_to_contiguous_id"] == {1: 0, 3: 1, 8: 2}
    assert separated["stuff_classes"] == ["things", "road"]
    assert separated["stuff_dataset_id_to_contiguous_id"] == {0: 0, 8: 1}
    with_zero = ClassSpaces.from_coco_categories(
        [{"id": 0, "name": "z", "isthing": 1}, *CATEGORIES]
    ).separated_metadata()
    assert with_zero["stuff_dataset_id_to_contiguous_id"] == {9: 0, 8: 1}


def test_thing_dataset_ids_invert_the_thing_mapping_and_are_empty_without_things():
    assert thing_dataset_ids(Metadata(thing_dataset_id_to_contiguous_id={5: 0, 9: 1})) == {
        0: 5,
        1: 9,
    }
    assert thing_dataset_ids(Metadata(stuff_classes=["sky"])) == {}
