"""seg_d2's U-Net against ``segmentation_models_pytorch.Unet``, side by side in one run.

    python -m benchmarks.semantic_unet [--seeds 0 1] [--iters 150] [KEY VALUE ...]

Both train from scratch on shapes_train_sem_seg with the same detectron2 data loader
(same augmentation and, per seed, the same batches), loss (seg_d2's
SemanticSegmentationLoss from the config), optimizer, schedule and iterations,
alternating which runs first from seed to seed; both are evaluated by SemSegEvaluator on
shapes_val_sem_seg. smp's closest encoder to U-Net's contracting path is
``vgg13_bn`` (double 3x3 conv + BN + ReLU per level, max-pooling, 64 channels
doubling, capped at 512), so seg_d2's U-Net is set to 64 base channels capped at 512
and both use the config's depth and a U-Net-symmetric decoder. Prints mIoU, training and
inference images/s, and writes them under benchmarks/results/.
"""

import argparse

import seg_d2  # noqa: F401  (first: fixes detectron2 0.6 before anything imports it)
from seg_d2.modeling import LogitsHead, SMPModel
from seg_d2.modeling.losses import SemanticSegmentationLoss

from detectron2.evaluation import SemSegEvaluator
from detectron2.layers import ShapeSpec
from detectron2.modeling import SemanticSegmentor, build_model
from tabulate import tabulate

from .comparison import compare_on_test_split, median, spread
from .inference import evaluate, inference_ms_per_image
from .results_files import write_results
from .training import train_like_detectron2

CONFIG = "configs/shapes/unet.yaml"
SMP_ENCODER = "vgg13_bn"
TIMED_IMAGES = 16


def build_smp_unet(cfg):
    """smp's Unet through seg_d2's SMPModel backbone and LogitsHead, in detectron2's
    SemanticSegmentor (the same padding and post-processing as seg_d2's U-Net)."""
    depth, base = cfg.MODEL.UNET.DEPTH, cfg.MODEL.UNET.BASE_CHANNELS
    num_classes = cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES
    model = SemanticSegmentor(
        backbone=SMPModel(
            architecture="Unet",
            encoder=SMP_ENCODER,
            num_classes=num_classes,
            encoder_depth=depth,
            architecture_args={"decoder_channels": [base * 2**k for k in reversed(range(depth))]},
        ),
        sem_seg_head=LogitsHead(
            {"logits": ShapeSpec(channels=num_classes, stride=1)},
            num_classes=num_classes,
            loss=SemanticSegmentationLoss(cfg),
        ),
        pixel_mean=cfg.MODEL.PIXEL_MEAN,
        pixel_std=cfg.MODEL.PIXEL_STD,
    )
    return model.to(cfg.MODEL.DEVICE)


SYSTEMS = {"seg_d2 UNet": build_model, f"smp Unet ({SMP_ENCODER})": build_smp_unet}


def run(system, cfg, seed, inputs):
    model, result = train_like_detectron2(system, SYSTEMS[system], cfg, seed)
    result["train_images_per_s"] = result["train_iters_per_s"] * cfg.SOLVER.IMS_PER_BATCH
    metrics = evaluate(model, inputs, SemSegEvaluator(cfg.DATASETS.TEST[0], distributed=False))
    result["mIoU"] = metrics["sem_seg"]["mIoU"]
    result["inference_images_per_s"] = 1000 / inference_ms_per_image(
        model, inputs[:TIMED_IMAGES], 1, cfg.MODEL.DEVICE
    )
    return result


KEYS = {
    "train_images_per_s": "train img/s",
    "inference_images_per_s": "inference img/s (b=1)",
    "peak_train_memory_MiB": "peak train MiB",
}


def table(runs):
    rows = []
    for system in SYSTEMS:
        params = next(r["params_M"] for r in runs if r["system"] == system)
        rows.append(
            [
                system,
                f"{params:.1f}",
                len([r for r in runs if r["system"] == system]),
                spread(runs, system, "mIoU"),
                *(f"{median(runs, system, key):.1f}" for key in KEYS),
            ]
        )
    ours, theirs = SYSTEMS
    rows.append(
        [
            "ratio seg_d2 / smp",
            "",
            "",
            "",
            *(f"{median(runs, ours, key) / median(runs, theirs, key):.2f}" for key in KEYS),
        ]
    )
    return tabulate(
        rows, headers=["model", "params (M)", "seeds", "mIoU", *KEYS.values()], tablefmt="github"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--iters", type=int, default=150)
    parser.add_argument(
        "--name", default="semantic_unet", help="file name under benchmarks/results/"
    )
    parser.add_argument("overrides", nargs="*", help="KEY VALUE config overrides for both models")
    args = parser.parse_args(argv)
    overrides = [
        "MODEL.UNET.BASE_CHANNELS",
        "64",
        "MODEL.UNET.MAX_CHANNELS",
        "512",
        "INPUT.CROP.SIZE",
        "(128, 128)",
        "INPUT.MIN_SIZE_TRAIN",
        "(128,)",
        "SOLVER.IMS_PER_BATCH",
        "4",
        "SOLVER.MAX_ITER",
        str(args.iters),
        "SOLVER.WARMUP_ITERS",
        str(args.iters // 10),
        *args.overrides,
    ]
    runs, text = compare_on_test_split(CONFIG, overrides, SYSTEMS, args.seeds, run, table)
    return write_results(
        args.name,
        "U-Net: seg_d2 vs segmentation_models_pytorch on shapes_val",
        f"Config {CONFIG} with {' '.join(overrides)}; seeds {args.seeds}; mIoU is 'mean ± half "
        "range' over seeds, "
        "the other columns are medians over seeds (train img/s from each run's median step; "
        "inference on the "
        f"first {TIMED_IMAGES} validation images held in memory, median of 3 passes).",
        text,
        {"overrides": overrides, "runs": runs},
    )


if __name__ == "__main__":
    main()
