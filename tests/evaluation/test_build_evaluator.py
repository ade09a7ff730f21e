"""build_evaluator: each kind of dataset gets detectron2's evaluators for it, writing
where the caller says, scoring as many detections as the model keeps."""

from seg_d2.evaluation import SemSegDiceEvaluator, build_evaluator

import pytest
from detectron2.data import MetadataCatalog
from detectron2.evaluation import COCOEvaluator, COCOPanopticEvaluator


def _built(dataset, folder, *args):
    return build_evaluator(dataset, str(folder), *args)._evaluators


def test_an_instance_dataset_gets_coco_ap_with_the_models_detections(tiny_val, tmp_path):
    (coco,) = _built(tiny_val, tmp_path, 250)
    assert type(coco) is COCOEvaluator
    assert coco._max_dets_per_image == [1, 10, 250] and coco._output_dir == str(tmp_path)
    (default,) = _built(tiny_val, tmp_path)
    assert default._max_dets_per_image == [1, 10, 100]


def test_a_semantic_dataset_gets_miou_and_dice_from_every_process(tiny_val, tmp_path):
    (semantic,) = _built(tiny_val + "_sem_seg", tmp_path)
    assert type(semantic) is SemSegDiceEvaluator
    assert semantic._dataset_name == tiny_val + "_sem_seg"
    assert semantic._distributed is True and semantic._output_dir == str(tmp_path)


def test_a_panoptic_dataset_gets_ap_miou_and_pq(tiny_val, tmp_path):
    coco, semantic, panoptic = _built(tiny_val + "_panoptic_separated", tmp_path, 300)
    assert (type(coco), type(semantic), type(panoptic)) == (
        COCOEvaluator,
        SemSegDiceEvaluator,
        COCOPanopticEvaluator,
    )
    assert coco._max_dets_per_image == [1, 10, 300]
    assert semantic._dataset_name == tiny_val + "_panoptic_separated"
    assert semantic._distributed is True
    assert panoptic._metadata.name == tiny_val + "_panoptic_separated"
    assert coco._output_dir == semantic._output_dir == panoptic._output_dir == str(tmp_path)


def test_a_dataset_of_another_kind_is_named(tmp_path):
    MetadataCatalog.get("pascal_like").set(evaluator_type="pascal_voc")
    try:
        with pytest.raises(
            NotImplementedError, match="'pascal_like' of evaluator_type 'pascal_voc'"
        ):
            build_evaluator("pascal_like", str(tmp_path))
    finally:
        MetadataCatalog.remove("pascal_like")
