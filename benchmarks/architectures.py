"""Semantic architectures side by side in one run: seg_d2's U-Net, detectron2's Semantic
FPN head (the FCN family) and segmentation_models_pytorch's DeepLabV3+, PSPNet, FPN,
SegFormer (mit_b0) and HRNet-W18, each from its configs/shapes/ config, trained from
scratch identically (the same data loader and batches per seed, seg_d2's losses where
the model takes them, the config's optimizer and schedule, the same iterations) and
evaluated on the same validation split.

    python -m benchmarks.architectures [--seeds 0 1] [--iters 400] [--only NAME ...]
        [KEY VALUE ...]

``python -m benchmarks run --nuclei DIR`` also runs it on the nuclei converted into DIR.
Prints parameters, mIoU (mean ± half range over seeds), training and inference
images/s and peak training memory, and writes them under benchmarks/results/.
"""

import argparse
import tempfile

import seg_d2
from seg_d2.engine import Trainer

from tabulate import tabulate

from .comparison import median, nuclei_datasets, run_alternating, spread
from .inference import evaluate, inference_ms_per_image, load_test_inputs
from .results_files import write_results
from .training import train_like_detectron2

CONFIGS = {
    "U-Net (seg_d2)": "configs/shapes/unet.yaml",
    "Semantic FPN R18 (detectron2, FCN family)": "configs/shapes/semantic_fpn_R18.yaml",
    "DeepLabV3+ R18": "configs/shapes/deeplabv3plus_R18.yaml",
    "PSPNet R18": "configs/shapes/pspnet_R18.yaml",
    "FPN R18": "configs/shapes/fpn_R18.yaml",
    "SegFormer mit_b0": "configs/shapes/segformer_mit_b0.yaml",
    "HRNet-W18 + FPN": "configs/shapes/hrnet_w18.yaml",
}
TIMED_IMAGES = 16
KEYS = {
    "train_images_per_s": "train img/s",
    "inference_images_per_s": "inference img/s (b=1)",
    "peak_train_memory_MiB": "peak train MiB",
}


def run(system, seed, overrides):
    cfg = seg_d2.setup_config(CONFIGS[system], overrides)
    model, result = train_like_detectron2(system, Trainer.build_model, cfg, seed)
    result["train_images_per_s"] = result["train_iters_per_s"] * cfg.SOLVER.IMS_PER_BATCH
    inputs = load_test_inputs(cfg, cfg.DATASETS.TEST[0])
    with tempfile.TemporaryDirectory() as folder:
        evaluator = Trainer.build_evaluator(cfg, cfg.DATASETS.TEST[0], folder)
        result["mIoU"] = evaluate(model, inputs, evaluator)["sem_seg"]["mIoU"]
    result["inference_images_per_s"] = 1000 / inference_ms_per_image(
        model, inputs[:TIMED_IMAGES], 1, cfg.MODEL.DEVICE
    )
    return result


def nuclei_arguments(folder):
    """The comparison's arguments for the nuclei converted into ``folder``, at the nuclei
    U-Net config's sizes (nucleus vs background)."""
    return [
        "--name",
        "architectures_nuclei",
        *nuclei_datasets(folder),
        "DATASETS.TRAIN",
        "('nuclei_train_sem_seg',)",
        "DATASETS.TEST",
        "('nuclei_val_sem_seg',)",
        "INPUT.MIN_SIZE_TRAIN",
        "(256, 320, 384)",
        "INPUT.MAX_SIZE_TRAIN",
        "1024",
        "INPUT.MIN_SIZE_TEST",
        "320",
        "INPUT.MAX_SIZE_TEST",
        "1024",
        "INPUT.EXTRA_AUGMENTATIONS",
        '["RandomCrop(\'absolute\', (128, 128))", "RandomFlip(vertical=True, horizontal=False)"]',
    ]


def table(runs, systems):
    rows = []
    for system in systems:
        params = next(r["params_M"] for r in runs if r["system"] == system)
        rows.append(
            [
                system,
                f"{params:.1f}",
                spread(runs, system, "mIoU"),
                *(f"{median(runs, system, key):.1f}" for key in KEYS),
            ]
        )
    return tabulate(
        rows, headers=["architecture", "params (M)", "mIoU", *KEYS.values()], tablefmt="github"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--name", default="architectures")
    parser.add_argument("overrides", nargs="*", help="KEY VALUE overrides for every config")
    args = parser.parse_args(argv)
    overrides = [
        "SOLVER.MAX_ITER",
        str(args.iters),
        "SOLVER.WARMUP_ITERS",
        str(args.iters // 10),
        *args.overrides,
    ]
    runs = run_alternating(args.only, args.seeds, lambda system, seed: run(system, seed, overrides))
    text = table(runs, args.only)
    print(text)
    return write_results(
        args.name,
        "Semantic architectures on shapes_val, trained identically from scratch",
        f"Each architecture's configs/shapes/ config with {' '.join(overrides)}: the U-Net's "
        f"data, sizes, batch, optimizer (AdamW) and cosine schedule; seeds {args.seeds}, "
        "alternating the order from seed to seed. mIoU is 'mean ± half range' over seeds; the "
        "other columns are medians over seeds (train img/s from each run's median step, with "
        "each config's step and memory format as train_net.py trains it; inference on the first "
        f"{TIMED_IMAGES} validation images held in memory, median of 3 passes; peak memory is "
        "the process heap's growth during training).",
        text,
        {"overrides": overrides, "configs": CONFIGS, "runs": runs},
    )


if __name__ == "__main__":
    main()
