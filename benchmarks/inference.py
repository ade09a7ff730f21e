"""Inference over a test split held in memory: timings per batch size and evaluation."""

import time

import seg_d2  # noqa: F401  (first: fixes detectron2 0.6 before anything imports it)
from seg_d2.data.mapper import DatasetMapper

import numpy as np
import torch
from detectron2.data import DatasetCatalog

__all__ = [
    "BATCH_SIZES",
    "evaluate",
    "inference_ms_by_batch",
    "inference_ms_per_image",
    "load_test_inputs",
]


def load_test_inputs(cfg, dataset_name, limit=None):
    """The test split mapped as detectron2's test loader would, held in memory so that
    inference timings leave out reading and decoding."""
    mapper = DatasetMapper(cfg, is_train=False)
    records = DatasetCatalog.get(dataset_name)[:limit]
    return [mapper(record) for record in records]


# The batch sizes whose best the inference timings report.
BATCH_SIZES = (1, 2, 4, 8)


@torch.no_grad()
def inference_ms_per_image(model, inputs, batch_size, device, repeats=3):
    """Median over ``repeats`` passes of milliseconds per image at ``batch_size``."""
    model.eval()
    model(inputs[:batch_size])  # warm-up: first-call allocations and lazy initialisation
    passes = []
    for _ in range(repeats):
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for begin in range(0, len(inputs), batch_size):
            model(inputs[begin : begin + batch_size])
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        passes.append((time.perf_counter() - start) * 1000 / len(inputs))
    return float(np.median(passes))


def inference_ms_by_batch(model, inputs, device, repeats=3):
    """Milliseconds per image at each of BATCH_SIZES, and the fastest batch size."""
    per_batch = {b: inference_ms_per_image(model, inputs, b, device, repeats) for b in BATCH_SIZES}
    return per_batch, min(per_batch, key=per_batch.get)


@torch.no_grad()
def evaluate(model, inputs, evaluator, batch_size=1):
    model.eval()
    evaluator.reset()
    for begin in range(0, len(inputs), batch_size):
        chunk = inputs[begin : begin + batch_size]
        evaluator.process(chunk, model(chunk))
    return evaluator.evaluate()
