"""Property (hypothesis): the sem-seg evaluator's mIoU and pixel accuracy are those of a
confusion matrix computed directly."""

import tempfile

from seg_d2.evaluation import SemSegDiceEvaluator

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import label_maps, semantic_records
from hypothesis import given


@pytest.mark.filterwarnings(
    "ignore:invalid value encountered:RuntimeWarning"
)  # all pixels ignored: NaN
@given(label_maps())
def test_miou_equals_the_confusion_matrix_computation(case):
    logits, truth = case
    truth = truth.numpy().astype(np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        records = semantic_records(folder, list(truth))
        DatasetCatalog.register("property_eval", lambda: records)
        MetadataCatalog.get("property_eval").set(
            stuff_classes=["a", "b", "c", "d"], ignore_label=255
        )
        try:
            evaluator = SemSegDiceEvaluator("property_eval", distributed=False)
            evaluator.reset()
            for record, image_logits in zip(records, logits):
                evaluator.process([record], [{"sem_seg": image_logits}])
            metrics = evaluator.evaluate()["sem_seg"]
        finally:
            DatasetCatalog.remove("property_eval")
            MetadataCatalog.remove("property_eval")
    prediction = logits.argmax(1).numpy().ravel()
    labels = truth.ravel().astype(np.int64)
    valid = labels != 255
    confusion = np.bincount(4 * labels[valid] + prediction[valid], minlength=16).reshape(
        4, 4
    )  # [truth, pred]
    in_truth, in_prediction, hits = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    counted = (in_truth + in_prediction) > 0  # a class only predicted counts with IoU 0
    if not valid.any():
        assert np.isnan(metrics["mIoU"])
        return
    ious = np.where(in_truth > 0, hits / np.maximum(in_truth + in_prediction - hits, 1), 0.0)
    assert metrics["mIoU"] == pytest.approx(100 * ious[counted].sum() / counted.sum(), abs=1e-9)
    assert metrics["pACC"] == pytest.approx(100 * hits.sum() / valid.sum(), abs=1e-9)
