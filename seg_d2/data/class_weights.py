"""Cross-entropy class weights from a semantic dataset's label frequencies, for
classes so rare (thin objects, small things) that an unweighted loss ignores them."""

import numpy as np
from detectron2.data import DatasetCatalog
from detectron2.utils.file_io import PathManager
from PIL import Image

__all__ = ["class_pixel_counts", "inverse_frequency_weights"]


def class_pixel_counts(dataset_names, num_classes, ignore_value=255):
    """Pixels per class over the ``sem_seg_file_name`` PNGs of registered datasets.
    A label that is neither a class nor ``ignore_value`` is an error naming the file."""
    counts = np.zeros(num_classes, dtype=np.int64)
    for name in dataset_names:
        for record in DatasetCatalog.get(name):
            path = record["sem_seg_file_name"]
            with PathManager.open(path, "rb") as f:
                labels = np.asarray(Image.open(f)).ravel()
            labels = labels[labels != ignore_value]
            if labels.size and labels.max() >= num_classes:
                raise ValueError(
                    f"{path}: label {labels.max()} is not below NUM_CLASSES={num_classes}"
                )
            counts += np.bincount(labels, minlength=num_classes)
    return counts


def inverse_frequency_weights(counts):
    """Weights proportional to 1 / frequency, scaled to average 1 over the classes
    present; an absent class gets 0 (it contributes no pixels anyway)."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    if not present.any():
        raise ValueError("no labelled pixels: cannot weight classes by frequency")
    weights = np.zeros_like(counts)
    weights[present] = 1.0 / counts[present]
    return weights * present.sum() / weights.sum()
