"""Run a trained model on image files: COCO results JSON, overlays, label PNGs.

    seg-d2 predict --config-file CFG --weights model_final.pth --input IMAGE_OR_FOLDER [...] \\
        --output DIR [--batch-size 4] [--device cpu|cuda] [--score-threshold 0.5] \\
        [--backend pytorch|onnxruntime|onnxruntime-int8] [--calibration-images FOLDER ...]
    seg-d2 predict --run OUTPUT_DIR [--weights best/model_best.pth] --input ... --output DIR

A video (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm``) given as an input is predicted
frame by frame into ``videos/<name>.mp4`` (the predictions drawn on each frame) and
``videos/<name>.json`` (the instances of every frame as COCO results, ``image_id`` the
frame's number from 1), each written whole.

``--run`` takes a training run's folder alone (its config.yaml, metadata.json and
weights; model_final.pth unless ``--weights`` names another file there): the training
data need not be present.

Writes into DIR: ``overlays/<name>.png`` (predictions drawn on each image; ``<name>`` is
the image's path relative to the folder holding all inputs, extension included, so
``a/x.jpg`` gives ``overlays/a/x.jpg.png`` and no two images share an output),
``images.json`` (image id -> file), and what the model predicts:
``coco_instances_results.json`` (instances, category ids of the test dataset's
metadata), ``sem_seg/<name>.png`` (labels), ``panoptic/<name>.png`` + ``panoptic.json``
(COCO panoptic). An image that cannot be read is reported and skipped; the others
are still predicted, and the command then lists the failures and exits with status 1.

``python tools/predict.py`` runs the same command.
"""

import argparse
import json
import os
import sys

import seg_d2
from seg_d2.atomic_files import write_text_atomically
from seg_d2.cli import exit_status, run_command
from seg_d2.config_setup import with_weights_and_device
from seg_d2.data.dense_ground_truth import derived_png_name
from seg_d2.data.image_io import ImageReadError, list_image_files, output_names
from seg_d2.engine import Predictor, coco_records, panoptic_segments, semantic_labels
from seg_d2.engine.onnx_backend import BACKENDS
from seg_d2.engine.run_folder import add_model_arguments, load_run
from seg_d2.visualization import prediction_panel

import cv2
import numpy as np
from panopticapi.utils import id2rgb
from PIL import Image
from tqdm import tqdm

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def _write_json(path, data):
    write_text_atomically(path, json.dumps(data))


def predict_video(predictor, path, folder, name, score_threshold):
    """Predict every frame of the video ``path`` into ``folder``/videos/``name``.mp4 and
    .json (module docstring); the number of frames."""
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ImageReadError(f"cannot read video {path!r}")
    target = os.path.join(folder, "videos", name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    partial = f"{target}.partial-{os.getpid()}.mp4"
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer, instances, frames = None, [], 0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    try:
        with tqdm(total=total, desc=os.path.basename(path), unit="frame") as progress:
            while True:
                read, frame = capture.read()
                if not read:
                    break
                frames += 1
                output = predictor(frame, format="BGR")
                panel = prediction_panel(
                    np.ascontiguousarray(frame[:, :, ::-1]),
                    output,
                    predictor.metadata,
                    score_threshold,
                )
                if writer is None:
                    size = (panel.shape[1], panel.shape[0])
                    writer = cv2.VideoWriter(partial, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                writer.write(np.ascontiguousarray(panel[:, :, ::-1]))
                if "instances" in output:
                    instances += coco_records(output, frames, predictor.metadata)
                progress.update()
        if writer is not None:
            writer.release()
            os.replace(partial, f"{target}.mp4")
    finally:
        capture.release()
        if os.path.exists(partial):
            os.remove(partial)
    _write_json(f"{target}.json", {"frames": frames, "fps": fps, "instances": instances})
    return frames


class Outputs:
    """Everything written for the images, each file whole: PNGs per image as they
    come, the JSON files at the end."""

    def __init__(self, folder, metadata, score_threshold):
        self.folder, self.metadata, self.score_threshold = folder, metadata, score_threshold
        self.instances, self.panoptic, self.images = [], [], []

    def _png(self, kind, name, array):
        path = os.path.join(self.folder, kind, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(array).save(path)

    def add(self, image_id, file_name, name, image_rgb, output):
        """``name``: the PNG name of the image's outputs."""
        self.images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "height": image_rgb.shape[0],
                "width": image_rgb.shape[1],
            }
        )
        self._png(
            "overlays",
            name,
            prediction_panel(image_rgb, output, self.metadata, self.score_threshold),
        )
        if "instances" in output:
            self.instances += coco_records(output, image_id, self.metadata)
        if "sem_seg" in output:
            self._png("sem_seg", name, semantic_labels(output))
        if "panoptic_seg" in output:
            ids, segments = panoptic_segments(output)
            self._png("panoptic", name, id2rgb(ids))
            self.panoptic.append(
                {"image_id": image_id, "file_name": name, "segments_info": segments}
            )

    def close(self):
        _write_json(os.path.join(self.folder, "images.json"), self.images)
        if self.instances or not self.panoptic:
            _write_json(os.path.join(self.folder, "coco_instances_results.json"), self.instances)
        if self.panoptic:
            _write_json(os.path.join(self.folder, "panoptic.json"), {"annotations": self.panoptic})


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--input", nargs="+", required=True, help="image files and/or folders of images"
    )
    parser.add_argument("--output", required=True)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--device", help="cpu or cuda (default: MODEL.DEVICE)")
    parser.add_argument("--score-threshold", type=float, default=0.5, help="for the overlays")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="pytorch",
        help="onnxruntime: the model exported to ONNX, run by ONNX Runtime on the CPU; "
        "onnxruntime-int8: the same, quantised to 8-bit integers",
    )
    parser.add_argument(
        "--calibration-images",
        nargs="+",
        help="for onnxruntime-int8: image files or folders like the inputs, whose "
        "TEST.INT8.CALIBRATION_IMAGES calibrate the quantisation (default: the config's "
        "training images; needed with --run)",
    )
    parser.add_argument(
        "opts", nargs="*", help="config overrides: KEY VALUE (YAML), key=value (Python)"
    )
    args = parser.parse_intermixed_args(argv)

    if args.run:
        cfg, metadata = load_run(args.run, args.weights, args.opts, args.device)
    else:
        overrides = with_weights_and_device(args.config_file, args.opts, args.weights, args.device)
        cfg, metadata = seg_d2.setup_config(args.config_file, overrides), None
    predictor = Predictor(
        cfg,
        metadata=metadata,
        backend=args.backend,
        calibration_images=args.calibration_images,
    )
    outputs = Outputs(args.output, predictor.metadata, args.score_threshold)
    videos = [path for path in args.input if path.lower().endswith(VIDEO_EXTENSIONS)]
    for video, name in zip(videos, output_names(videos, videos)):
        frames = predict_video(predictor, video, args.output, name, args.score_threshold)
        print(f"{frames} frame(s) of {video} predicted into {args.output}/videos/")
    images = [path for path in args.input if path not in videos]
    files = list_image_files(images)
    if not files:
        if videos:
            return 0
        raise SystemExit(f"no images found in {args.input}")
    names = dict(zip(files, map(derived_png_name, output_names(files, images))))
    failures = []
    predictions = predictor.predict_files(files, args.batch_size, skipped=failures)
    for image_id, (file_name, image_rgb, output) in enumerate(
        tqdm(predictions, desc="predicting", unit="image", total=len(files)), 1
    ):
        outputs.add(image_id, file_name, names[file_name], image_rgb, output)
    outputs.close()
    print(f"predictions for {len(files) - len(failures)} image(s) written to {args.output}")
    if failures:
        print(
            f"{len(failures)} image(s) could not be read, no prediction for them:", file=sys.stderr
        )
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))
