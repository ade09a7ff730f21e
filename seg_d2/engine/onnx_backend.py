"""The Predictor's ONNX Runtime backend: the model exported to ONNX (``seg_d2.export``) and
run by ONNX Runtime on the CPU, with detectron2's own post-processing, so that it takes and
gives what the PyTorch model does (a list of input dicts, a list of output dicts).

The export is traced on the first image the backend is given, at its size (tracing follows
one image through the model; the file then takes any size), into a temporary folder,
removed once ONNX Runtime has read it. Test-time augmentation and sliding windows are Python
loops around the model and are not exported; a config that enables them is refused.

"onnxruntime-int8" quantises the exported model's convolutions and fully connected layers to
8-bit integers (ONNX Runtime's static quantisation: weights per output channel, activations
with ranges measured on calibration images, which should look like those the model will see:
its training images by default), except the modules named by TEST.INT8.FLOAT_LAYERS: by
default those whose outputs are the model's predictions (scores, box deltas, mask and class
logits), whose rounding errors nothing after them averages out.

The backend pastes each instance's mask into the image by ``paste_masks``: the same bilinear
sampling as detectron2's ``paste_masks_in_image``, many times faster on a CPU, where
detectron2's pasting of hundreds of masks can take longer than the model.
"""

import math
import os
import re
import tempfile
import warnings

import numpy as np
import torch
from detectron2.modeling import GeneralizedRCNN
from detectron2.modeling.postprocessing import detector_postprocess, sem_seg_postprocess
from torch.nn.parallel import DistributedDataParallel

from ..export import check_exportable, export_traceable, traceable_model

__all__ = [
    "BACKENDS",
    "OnnxRuntimeModel",
    "evenly_spaced",
    "paste_masks",
    "postprocess_detections",
    "with_backend",
]

BACKENDS = ("pytorch", "onnxruntime", "onnxruntime-int8")
# What the int8 backend quantises: convolutions and fully connected layers.
QUANTIZED_OPS = ("Conv", "Gemm")


def with_backend(backend, model, with_options, calibration=None, float_layers=()):
    """What runs ``model`` on ``backend``: ``with_options`` (``model`` under its test options)
    for PyTorch; for ONNX Runtime, ``model`` alone, refused when test options wrap it.
    For "onnxruntime-int8": ``calibration``, a function returning the model inputs (dicts
    with "image") that calibrate its quantisation, called once, on the first image, and
    ``float_layers``, the paths of modules left in float (TEST.INT8.FLOAT_LAYERS)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if backend == "pytorch":
        return with_options
    if with_options is not model:
        raise ValueError(
            f"the {backend} backend runs the model alone: turn off test-time augmentation "
            "and sliding windows (TEST.AUG.ENABLED False, TEST.SLIDING_WINDOW.SIZE 0)"
        )
    if backend == "onnxruntime":
        return OnnxRuntimeModel(model)
    if calibration is None:
        raise ValueError(
            "the onnxruntime-int8 backend needs calibration images (images like those the "
            "model will see) to quantise the model: its training dataset, or files given"
        )
    return OnnxRuntimeModel(model, calibration, float_layers)


def evenly_spaced(items, count):
    """``count`` of ``items`` (all if fewer), evenly spaced from the first: calibration images
    that cover a dataset sorted by source or by size."""
    if count <= 0:
        raise ValueError(f"the number of calibration images must be positive, not {count}")
    if len(items) <= count:
        return list(items)
    return [items[index * len(items) // count] for index in range(count)]


class OnnxRuntimeModel:
    def __init__(self, model, calibration=None, float_layers=()):
        """``model``: an eval-mode Mask R-CNN or semantic model, as ``seg_d2.export`` takes
        (in a process of several, its DistributedDataParallel wrapping); ``calibration``
        and ``float_layers``: to quantise it to int8, as ``with_backend`` takes them."""
        if isinstance(model, DistributedDataParallel):
            model = model.module
        check_exportable(model)
        self._model = model
        self._detector = isinstance(model, GeneralizedRCNN)
        self._calibration = calibration
        self._float_layers = float_layers
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
            if self._calibration is not None:
                path = quantized(path, self._calibration(), self._float_layers)
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
            return {"instances": postprocess_detections(output["instances"], height, width)}
        return {"sem_seg": sem_seg_postprocess(output["sem_seg"], image.shape[1:], height, width)}


def postprocess_detections(instances, height, width):
    """detectron2's ``detector_postprocess`` of a Mask R-CNN's raw ``instances`` (boxes
    scaled to the image and clipped, empty ones dropped), masks pasted by ``paste_masks``."""
    probabilities = instances.get("pred_masks")
    instances.remove("pred_masks")
    instances.mask_probabilities = probabilities  # dropped with the empty boxes
    instances = detector_postprocess(instances, height, width)
    instances.pred_masks = paste_masks(
        instances.mask_probabilities[:, 0], instances.pred_boxes.tensor, (height, width)
    )
    instances.remove("mask_probabilities")
    return instances


def paste_masks(masks, boxes, image_size, threshold=0.5):
    """detectron2's ``paste_masks_in_image``: (N, M, M) mask probabilities sampled bilinearly
    at the pixel centres of their (N, 4) boxes, zero outside, thresholded into an (N, H, W)
    boolean tensor. The sampling is separable (a box scales each axis alone): two small
    matrix products per mask, where ``grid_sample`` costs a grid and several tensor
    operations per mask."""
    height, width = image_size
    pasted = np.zeros((len(masks), height, width), dtype=bool)
    for index, (mask, (x0, y0, x1, y1)) in enumerate(zip(masks.float().numpy(), boxes.tolist())):
        # the box and a pixel around it: beyond, every sample is zero
        left, top = max(math.floor(x0) - 1, 0), max(math.floor(y0) - 1, 0)
        right, bottom = min(math.ceil(x1) + 1, width), min(math.ceil(y1) + 1, height)
        if right <= left or bottom <= top:
            continue
        rows = _bilinear_weights(top, bottom, y0, y1, mask.shape[0])
        columns = _bilinear_weights(left, right, x0, x1, mask.shape[1])
        pasted[index, top:bottom, left:right] = rows @ mask @ columns.T >= threshold
    return torch.from_numpy(pasted)


def _bilinear_weights(start, stop, low, high, size):
    """(stop - start, size): how much each of ``size`` mask cells weighs in the pixels
    start..stop-1 of an axis on which the mask spans [low, high): grid_sample's bilinear
    weights (align_corners=False), cells outside the mask weighing nothing (zero padding)."""
    at = (np.arange(start, stop) + 0.5 - low) * size / (high - low) - 0.5
    below = np.floor(at)
    weights = np.zeros((stop - start, size), np.float32)
    pixels = np.arange(stop - start)
    for cell, weight in ((below, 1 - (at - below)), (below + 1, at - below)):
        inside = (cell >= 0) & (cell < size)
        weights[pixels[inside], cell[inside].astype(int)] += weight[inside]
    return weights


def quantized(path, calibration_inputs, float_layers=()):
    """The int8 model beside the float one at ``path``: QUANTIZED_OPS quantised (QDQ format,
    weights per channel) but in the modules ``float_layers``, activation ranges measured on
    ``calibration_inputs``."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    images = [item["image"].numpy() for item in calibration_inputs]
    if not images:
        raise ValueError("the onnxruntime-int8 backend was given no calibration images")
    folder = os.path.dirname(path)
    prepared, output = os.path.join(folder, "prepared.onnx"), os.path.join(folder, "int8.onnx")
    # fused and shape-inferred, as ONNX Runtime advises before quantising
    quant_pre_process(path, prepared, skip_symbolic_shape=True)
    quantize_static(
        prepared,
        output,
        _Calibration(images),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(QUANTIZED_OPS),
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=_nodes_of(prepared, float_layers),
    )
    return output


def _nodes_of(path, modules):
    """The names of the nodes that ``modules`` (paths such as "roi_heads.mask_head.predictor")
    exported to in the ONNX file at ``path``."""
    import onnx

    # under the tracing adapter's "model" where the adapter calls the model itself (not its
    # inference: a semantic model); a module called more than once (the RPN head, once per
    # FPN level) exports to nodes numbered after the first: /proposal_generator/rpn_head/conv_1
    layers = [
        "(/model)?" + re.escape("/" + module.replace(".", "/")) + r"(_\d+)?/" for module in modules
    ]
    graph = onnx.load(path, load_external_data=False).graph
    return [node.name for node in graph.node if any(re.match(x, node.name) for x in layers)]


class _Calibration:
    """ONNX Runtime's CalibrationDataReader over CHW images."""

    def __init__(self, images):
        self._images = iter(images)

    def get_next(self):
        image = next(self._images, None)
        return None if image is None else {"image": image}
