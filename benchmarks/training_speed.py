"""What each of the demo's speed settings buys per Mask R-CNN training step, side by side
in one run: the float32 base config, then the settings the demo adds, one at a time,
each row keeping the ones above it; the last row is the demo's config (its Dice term
included). Every variant trains the same steps on the same batches per round
(train_like_detectron2), alternating the order from round to round; the table gives the
median step of each and its speed-up over the base.

    python -m benchmarks.training_speed [--rounds 2] [--steps 40] [--config FILE] [KEY VALUE ...]

``--config`` times the same settings on another config (the nuclei's: what pays on the
shapes need not pay on crowded images); settings it already holds add nothing there.
"""

import argparse

import seg_d2

from detectron2.modeling import build_model
from tabulate import tabulate

from .comparison import median, run_alternating
from .results_files import write_results
from .training import train_like_detectron2

CONFIG = "configs/shapes/Base-MaskRCNN-R18-FPN.yaml"
AUTOCAST = ["SOLVER.AMP.ENABLED", "True"]
FEWER_PROPOSALS = ["MODEL.RPN.PRE_NMS_TOPK_TRAIN", "500", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "250"]
ONE_SAMPLE = ["MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO", "1"]
CHANNELS_LAST = ["MODEL.CHANNELS_LAST", "True"]
LOADING_IN_PROCESS = ["DATALOADER.NUM_WORKERS", "0"]
DICE = ["MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT", "1.0"]
# Each setting the demo adds, in order; each row keeps the settings of the rows above.
SETTINGS = [
    ("float32 (base config)", []),
    ("+ bfloat16 autocast", AUTOCAST),
    ("+ RPN 500/250 proposals in training", FEWER_PROPOSALS),
    ("+ 1 RoIAlign sample per box bin", ONE_SAMPLE),
    ("+ channels-last", CHANNELS_LAST),
    ("+ loading in the training process, Dice term (the demo)", [*LOADING_IN_PROCESS, *DICE]),
]
VARIANTS = {
    name: [option for _, added in SETTINGS[: row + 1] for option in added]
    for row, (name, _) in enumerate(SETTINGS)
}


def run(config, variant, round_, steps, overrides):
    cfg = seg_d2.setup_config(
        config, [*VARIANTS[variant], "SOLVER.MAX_ITER", str(steps), *overrides]
    )
    return train_like_detectron2(variant, build_model, cfg, round_)[1]


def table(runs):
    base = median(runs, next(iter(VARIANTS)), "train_iters_per_s")
    rows = []
    for variant in VARIANTS:
        its = median(runs, variant, "train_iters_per_s")
        rows.append([variant, f"{1000 / its:.0f}", f"{its / base:.2f}"])
    return tabulate(
        rows,
        headers=["training step", "ms / step (median)", "speed-up over float32"],
        tablefmt="github",
        disable_numparse=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--name", default="training_speed")
    parser.add_argument("--config", default=CONFIG, help="the float32 config the rows add to")
    parser.add_argument("overrides", nargs="*", help="KEY VALUE overrides for every variant")
    args = parser.parse_args(argv)
    runs = run_alternating(
        VARIANTS,
        range(args.rounds),
        lambda variant, round_: run(args.config, variant, round_, args.steps, args.overrides),
    )
    text = table(runs)
    print(text)
    return write_results(
        args.name,
        "Mask R-CNN training step: the demo's speed settings one at a time",
        f"Config {args.config} with each variant's overrides, SOLVER.MAX_ITER {args.steps} "
        f"{' '.join(args.overrides)}; rounds (seeds) {list(range(args.rounds))}, alternating "
        "the order; each run's step is its median step after 5 warm-up steps (data wait "
        "included), the table the median over rounds. Early steps: the RoI heads' share "
        "grows later in training as more proposals match.",
        text,
        {"config": args.config, "variants": VARIANTS, "overrides": args.overrides, "runs": runs},
    )


if __name__ == "__main__":
    main()
