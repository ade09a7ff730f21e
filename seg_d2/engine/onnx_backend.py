"""The Predictor's ONNX Runtime backend: the model exported to ONNX (``seg_d2.export``) and
run by ONNX Runtime on the CPU, with detectron2's own post-processing, so that it takes and
gives what the PyTorch model does (a list of input dicts, a list of output dicts).

The export is traced on the first image the backend is given, at its size (tracing follows
one image through the model; the file then takes any size), into a temporary folder,
removed once ONNX Runtime has read it.
Test-time augmentation and sliding windows are Python loops around the model and are not
exported; a config that enables them is refused.
"""

import tempfile
import warnings

import torch
from detectron2.modeling import GeneralizedRCNN
from detectron2.modeling.postprocessing import detector_postprocess, sem_seg_postprocess
from torch.nn.parallel import DistributedDataParallel

from ..export import check_exportable, export_traceable, traceable_model

__all__ = ["BACKENDS", "OnnxRuntimeModel", "with_backend"]

BACKENDS = ("pytorch", "onnxruntime")


def with_backend(backend, model, with_options):
    """What runs ``model`` on ``backend``: ``with_options`` (``model`` under its test options)
    for PyTorch; for ONNX Runtime, ``model`` alone, refused when test options wrap it."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if backend == "pytorch":
        return with_options
    if with_options is not model:
        raise ValueError(
            "the onnxruntime backend runs the model alone: turn off test-time augmentation "
            "and sliding windows (TEST.AUG.ENABLED False, TEST.SLIDING_WINDOW.SIZE 0)"
        )
    return OnnxRuntimeModel(model)


class OnnxRuntimeModel:
    def __init__(self, model):
        """``model``: an eval-mode Mask R-CNN or semantic model, as ``seg_d2.export`` takes
        (in a process of several, its DistributedDataParallel wrapping)."""
        if isinstance(model, DistributedDataParallel):
            model = model.module
        check_exportable(model)
        self._model = model
        self._detector = isinstance(model, GeneralizedRCNN)
        self._session = None
        self._schema = None

    def _start(self, image):
        import onnxruntime

        adapter = traceable_model(self._model, image)
        # the session holds the model once made: the file goes with its temporary folder
        with tempfile.TemporaryDirectory(prefix="seg_d2_onnx_") as folder:
            with warnings.catch_warnings():  # the tracer's notes on detectron2's Python branches
                warnings.simplefilter("ignore")
                path = export_traceable(adapter, image, folder, "onnx")
            self._session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        self._schema = adapter.outputs_schema

    def eval(self):
        return self

    def __call__(self, inputs):
        return [self._run(item) for item in inputs]

    def _run(self, item):
        image = item["image"]
        if self._session is None:
            self._start(image)
        flat = self._session.run(None, {"image": image.numpy()})
        (output,) = self._schema([torch.as_tensor(tensor) for tensor in flat])
        height, width = item.get("height", image.shape[1]), item.get("width", image.shape[2])
        if self._detector:
            return {"instances": detector_postprocess(output["instances"], height, width)}
        return {"sem_seg": sem_seg_postprocess(output["sem_seg"], image.shape[1:], height, width)}
