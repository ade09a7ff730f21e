"""Panoptic predictions and PQ from a trained instance model and a trained semantic
model, without retraining (seg_d2.modeling.PosthocPanoptic).

    seg-d2 combine-panoptic \\
        --instance-config configs/shapes/mask_rcnn_R18_FPN.yaml \\
        --instance-weights output/shapes/mask_rcnn_R18_FPN/model_final.pth \\
        --semantic-config configs/shapes/unet.yaml \\
        --semantic-weights output/shapes/unet/model_final.pth \\
        [--dataset shapes_val_panoptic_separated] [--output-dir DIR] [KEY VALUE ...]

Images are read and resized by the instance config's test mapper; trailing KEY VALUE
pairs apply to the instance config, e.g. MODEL.PANOPTIC_FPN.COMBINE.STUFF_AREA_LIMIT
1024. Writes COCO AP, mIoU and PQ to DIR/results.json and prints them.

``python tools/combine_panoptic.py`` runs the same command.
"""

import argparse
import json

from seg_d2.cli import exit_status, run_command
from seg_d2.engine import Predictor, Trainer, write_results
from seg_d2.modeling import PosthocPanoptic

from detectron2.evaluation import inference_on_dataset
from detectron2.utils.logger import setup_logger


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instance-config", required=True)
    parser.add_argument("--instance-weights", required=True)
    parser.add_argument("--semantic-config", required=True)
    parser.add_argument("--semantic-weights", required=True)
    parser.add_argument(
        "--dataset",
        default="shapes_val_panoptic_separated",
        help="a registered dataset with evaluator_type coco_panoptic_seg",
    )
    parser.add_argument("--output-dir", default="output/shapes/posthoc_panoptic")
    parser.add_argument(
        "opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides of the instance config"
    )
    args = parser.parse_args(argv)
    setup_logger()
    setup_logger(name="seg_d2")

    instance = Predictor.from_config_file(args.instance_config, args.instance_weights, args.opts)
    cfg = instance.cfg
    semantic = Predictor.from_config_file(
        args.semantic_config, args.semantic_weights, ["MODEL.DEVICE", cfg.MODEL.DEVICE]
    )
    model = PosthocPanoptic(cfg, instance.model, semantic.model)
    evaluator = Trainer.build_evaluator(cfg, args.dataset, output_folder=args.output_dir)
    results = inference_on_dataset(model, Trainer.build_test_loader(cfg, args.dataset), evaluator)
    print(json.dumps(results, indent=2))
    print(f"results written to {write_results(args.output_dir, results)}")
    return results


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))
