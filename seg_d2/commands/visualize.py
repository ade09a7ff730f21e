"""Pictures of a dataset, of a model's predictions, or of a results file.

    seg-d2 visualize dataset --dataset shapes_val --output DIR [--num 8 | --image-ids 3 7]
    seg-d2 visualize predict --run OUTPUT_DIR [--dataset NAME | --images FILE_OR_DIR ...]
                             --output DIR [--compare] [--errors]
    seg-d2 visualize predict --config-file CFG ... [KEY VALUE ...]  (MODEL.WEIGHTS among them)
    seg-d2 visualize results
        --results OUTPUT_DIR/inference/shapes_val/coco_instances_results.json
        --dataset shapes_val --output DIR [--compare] [--errors]

One PNG per image in DIR (``--compare``: ground truth | prediction, titled with the
image's mask AP and/or mIoU; ``--errors`` adds a panel of false positives and missed
instances, or of wrong-class pixels), plus DIR/contact_sheet.png tiling them.

``python tools/visualize.py`` runs the same command.
"""

import argparse
import json
import os
from collections import defaultdict

import seg_d2
from seg_d2.cli import exit_status, run_command
from seg_d2.config_setup import with_weights_and_device
from seg_d2.data.coco import ensure_derived_files, register_coco_format_datasets
from seg_d2.data.dense_ground_truth import derived_png_name
from seg_d2.data.image_io import ImageReadError, list_image_files, output_names, read_image
from seg_d2.engine import Predictor
from seg_d2.engine.run_folder import add_model_arguments, load_run, run_datasets
from seg_d2.errors import ConfigError
from seg_d2.evaluation.per_image import coco_ground_truth
from seg_d2.visualization import (
    compare_panel,
    contact_sheet,
    ground_truth_panel,
    prediction_panel,
    titled,
)

import numpy as np
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, BoxMode, Instances
from PIL import Image
from pycocotools import mask as mask_util


def _records(dataset, num, image_ids):
    records = DatasetCatalog.get(dataset)
    if image_ids:
        by_id = {r["image_id"]: r for r in records}
        unknown = [i for i in image_ids if i not in by_id]
        if unknown:
            raise SystemExit(f"image id(s) {unknown} not in dataset {dataset!r}")
        return [by_id[i] for i in image_ids]
    return records[:num]


def _instances_from_results(detections, height, width, thing_contiguous):
    instances = Instances((height, width))
    instances.scores = torch.tensor([d["score"] for d in detections], dtype=torch.float32)
    instances.pred_classes = torch.tensor(
        [thing_contiguous[d["category_id"]] for d in detections], dtype=torch.int64
    )
    boxes = [BoxMode.convert(d["bbox"], BoxMode.XYWH_ABS, BoxMode.XYXY_ABS) for d in detections]
    instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    masks = [mask_util.decode(d["segmentation"]) for d in detections]
    instances.pred_masks = torch.from_numpy(
        np.stack(masks).astype(bool) if masks else np.zeros((0, height, width), bool)
    )
    return instances


def _names(items, images, metadata):
    """The PNG name of each item: an image file's path relative to the folder holding all
    of ``images``, a record's relative to its dataset's image folder, extension included,
    so that no two share one."""
    if images:
        return output_names(items, images)
    image_root = metadata.get("image_root", None)
    return [
        os.path.relpath(record["file_name"], image_root)
        if image_root
        else os.path.basename(record["file_name"])
        for record in items
    ]


def _dataset_metadata(args, test_dataset, parser):
    """The metadata of the dataset drawn (or whose classes the images get: the model's
    test dataset), and with ``--compare`` its COCO ground truth."""
    if not args.images and not args.dataset:
        args.dataset = test_dataset or parser.error("give --dataset")
    dataset = args.dataset or test_dataset
    if dataset not in DatasetCatalog.list():
        raise ConfigError(
            f"dataset {dataset!r} is not registered: give the --run or --config-file whose "
            "DATASETS.COCO_FORMAT registers it, or a registered dataset, e.g. "
            + ", ".join(name for name in DatasetCatalog.list() if name.startswith("shapes_"))
        )
    ensure_derived_files(dataset)  # the evaluation JSON that --compare reads
    metadata = MetadataCatalog.get(dataset)
    coco_gt = (
        coco_ground_truth(metadata.json_file)
        if args.compare and metadata.get("json_file")
        else None
    )
    return metadata, coco_gt


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["dataset", "predict", "results"])
    parser.add_argument("--output", required=True, help="folder for the PNGs")
    parser.add_argument(
        "--dataset", help="a registered dataset (e.g. shapes_val, shapes_val_sem_seg)"
    )
    parser.add_argument("--num", type=int, default=8, help="first N images of the dataset")
    parser.add_argument("--image-ids", type=int, nargs="+", help="these image ids instead")
    add_model_arguments(parser, required=False)
    parser.add_argument(
        "--images", nargs="+", help="predict: image files or folders instead of a dataset"
    )
    parser.add_argument("--results", help="results: a coco_instances_results.json")
    parser.add_argument("--compare", action="store_true", help="ground truth | prediction panels")
    parser.add_argument("--errors", action="store_true", help="with --compare, add an error panel")
    parser.add_argument("--score-threshold", type=float, default=0.5)
    parser.add_argument("--columns", type=int, default=4, help="of the contact sheet")
    parser.add_argument(
        "--sheet-width", type=int, default=2048, help="the contact sheet's largest width in pixels"
    )
    parser.add_argument("opts", nargs="*", help="KEY VALUE overrides of the model's config")
    args = parser.parse_intermixed_args(argv)

    cfg, run_metadata, test_dataset = None, None, None
    if args.run:
        cfg, run_metadata = load_run(args.run, args.weights, args.opts)
        coco_format, test_dataset = run_datasets(cfg)
        if not args.images:  # the run's datasets, for --dataset and its ground truth
            register_coco_format_datasets(coco_format)
    elif args.config_file:
        overrides = with_weights_and_device(args.config_file, args.opts, args.weights)
        cfg = seg_d2.setup_config(args.config_file, overrides)
        test_dataset = cfg.DATASETS.TEST[0]
    if args.weights and cfg is None:
        parser.error("--weights is the weights of a model: give --run or --config-file too")
    if args.mode == "predict" and cfg is None:
        parser.error("predict needs --run, or --config-file and MODEL.WEIGHTS")
    if args.mode == "results" and not (args.results and args.dataset):
        parser.error("results needs --results and --dataset")
    if args.mode != "predict" and args.images:
        parser.error("--images goes with predict")
    if args.images and run_metadata is not None:
        metadata, coco_gt = run_metadata, None  # a run folder knows its classes
    else:
        metadata, coco_gt = _dataset_metadata(args, test_dataset, parser)

    if args.mode == "predict":
        predictor = Predictor(cfg, metadata=run_metadata)

        def output_for(item):
            image_file = item if isinstance(item, str) else item["file_name"]
            return predictor(read_image(image_file, format="RGB"), format="RGB")
    elif args.mode == "results":
        with open(args.results) as f:
            detections = defaultdict(list)
            for d in json.load(f):
                detections[d["image_id"]].append(d)
        contiguous = metadata.thing_dataset_id_to_contiguous_id

        def output_for(item):
            return {
                "instances": _instances_from_results(
                    detections[item["image_id"]], item["height"], item["width"], contiguous
                )
            }
    else:
        output_for = None

    os.makedirs(args.output, exist_ok=True)
    panels, written, unreadable = [], [], []
    items = (
        list_image_files(args.images)
        if args.images
        else _records(args.dataset, args.num, args.image_ids)
    )
    for item, name in zip(items, _names(items, args.images, metadata)):
        try:
            panel = _panel(args, item, metadata, output_for, coco_gt)
        except ImageReadError as e:
            unreadable.append(str(e))
            continue
        path = os.path.join(args.output, derived_png_name(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(panel).save(path)
        panels.append(panel)
        written.append(path)
    if panels:
        sheet = os.path.join(args.output, "contact_sheet.png")
        Image.fromarray(contact_sheet(panels, args.columns, max_width=args.sheet_width)).save(sheet)
        print(f"wrote {len(written)} image(s) and {sheet}")
    if unreadable:
        raise SystemExit(
            f"{len(unreadable)} image(s) could not be read, not drawn:\n  "
            + "\n  ".join(unreadable)
        )
    if not panels:
        raise SystemExit("no images to draw")
    return written, sheet


def _panel(args, item, metadata, output_for, coco_gt):
    """The PNG of one dataset record or image file."""
    if args.mode == "dataset":
        return titled(ground_truth_panel(item, metadata), f"{os.path.basename(item['file_name'])}")
    output = output_for(item)
    image_file = item if isinstance(item, str) else item["file_name"]
    if args.compare and isinstance(item, dict):
        return compare_panel(
            item,
            output,
            metadata,
            coco_gt=coco_gt,
            errors=args.errors,
            score_threshold=args.score_threshold,
        )
    return titled(
        prediction_panel(
            read_image(image_file, format="RGB"), output, metadata, args.score_threshold
        ),
        os.path.basename(image_file),
    )


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))
