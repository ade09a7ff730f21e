"""Models without detectron2 or seg_d2: TorchScript and ONNX files made by tracing
through detectron2's ``TracingAdapter``, as
detectron2's ``tools/deploy/export_model.py`` does with ``--export-method tracing``.

An exported model takes one CHW float image in the config's ``INPUT.FORMAT``, already
resized to the test size (as ``Predictor`` resizes it), and returns tensors:
- Mask R-CNN: ``(boxes, classes, masks, scores, image size)`` of the raw detections in
  that image's coordinates; ``masks`` are the mask head's per-box probabilities (N, 1, M, M), to be
  pasted into the image (``detectron2.layers.paste_masks_in_image``) by the caller;
- a semantic model: its logits ``(C, H, W)`` at the input's size.
Loading a TorchScript file needs ``torch`` and ``torchvision`` (for RoIAlign and NMS).
Not exported: test-time augmentation and sliding windows (Python loops around the model),
PanopticFPN's combination step (a data-dependent Python loop) and the post-hoc panoptic
model.
"""

import os

import torch
from detectron2.export import TracingAdapter
from detectron2.modeling import GeneralizedRCNN, PanopticFPN, SemanticSegmentor

__all__ = [
    "FORMATS",
    "check_exportable",
    "export_model",
    "export_traceable",
    "run_exported",
    "traceable_model",
]

FORMATS = ("torchscript", "onnx")
ONNX_OPSET = 17


def _raw_detections(model, inputs):
    # Raw detections: pasting masks into the image is a data-dependent loop.
    return [{"instances": model.inference(inputs, do_postprocess=False)[0]}]


def check_exportable(model):
    """NotImplementedError unless export can trace ``model``."""
    if isinstance(model, PanopticFPN) or not isinstance(
        model, (GeneralizedRCNN, SemanticSegmentor)
    ):
        raise NotImplementedError(
            "export covers GeneralizedRCNN and SemanticSegmentor models, "
            f"not {type(model).__name__}"
        )


def traceable_model(model, image):
    """``model`` as a module of one CHW image tensor returning a tuple of tensors."""
    check_exportable(model)
    inference = _raw_detections if isinstance(model, GeneralizedRCNN) else None
    # In eval mode as a whole: the ONNX exporter restores the adapter's own mode after
    # exporting, which for a new module is training, and would leave the model training.
    return TracingAdapter(model.eval(), [{"image": image}], inference).eval()


def export_model(model, image, output_dir, format="torchscript"):
    """Trace ``model`` on ``image`` and write ``output_dir/model.ts`` or ``model.onnx``;
    return its path."""
    _check_format(format)
    return export_traceable(traceable_model(model, image), image, output_dir, format)


def _check_format(format):
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")


@torch.no_grad()
def export_traceable(adapter, image, output_dir, format="torchscript"):
    """``export_model`` of a ``traceable_model``, whose ``outputs_schema`` then tells how
    the file's tensors make the model's outputs."""
    _check_format(format)
    os.makedirs(output_dir, exist_ok=True)
    if format == "torchscript":
        path = os.path.join(output_dir, "model.ts")
        torch.jit.trace(adapter, (image,)).save(path)
        return path
    path = os.path.join(output_dir, "model.onnx")
    torch.onnx.export(
        adapter,
        (image,),
        path,
        input_names=["image"],
        dynamic_axes={"image": {1: "height", 2: "width"}},
        opset_version=ONNX_OPSET,
        dynamo=False,
    )
    return path


def run_exported(path, image):
    """The outputs (a list of tensors) of an exported file on one CHW image tensor."""
    if path.endswith(".ts"):
        return list(torch.jit.load(path)(image))
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return [torch.as_tensor(output) for output in session.run(None, {"image": image.numpy()})]
