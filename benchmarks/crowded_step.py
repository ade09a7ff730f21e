"""Training step time on crowded images: the nuclei config on the nuclei (up to 375 per
image) against the demo's config on shapes (at most a few per image), both at 256x256,
side by side in one run.

    python -m benchmarks.crowded_step --nuclei DIR [--steps 10] [--repeats 2]

DIR holds the nuclei as the README's "Train on your own data" converts them. Each
measurement trains a fresh model of the config as train_net.py would (its loader,
optimizer and schedule) for a few warm-up steps plus ``--steps``, and keeps the median
step, data wait included; the two alternate which runs first.
"""

import argparse

import seg_d2

from detectron2.modeling import build_model
from tabulate import tabulate

from .comparison import median, nuclei_datasets, run_alternating
from .results_files import write_results
from .training import train_like_detectron2

NUCLEI_CONFIG = "configs/nuclei/mask_rcnn_R18_FPN.yaml"
SHAPES_CONFIG = "configs/shapes/mask_rcnn_R18_FPN.yaml"
# shapes images are 256x256: trained at their own size, as the nuclei's 256-px crops are.
SHAPES_AT_256 = ["INPUT.MIN_SIZE_TRAIN", "(256,)", "INPUT.MAX_SIZE_TRAIN", "256"]
WARMUP_STEPS = 5


def run(system, config_file, overrides, steps, seed):
    cfg = seg_d2.setup_config(
        config_file, [*overrides, "SOLVER.MAX_ITER", str(WARMUP_STEPS + steps)]
    )
    _, result = train_like_detectron2(system, build_model, cfg, seed, warmup_steps=WARMUP_STEPS)
    result["seconds_per_step"] = 1.0 / result.pop("train_iters_per_s")
    return result


def table(runs, systems):
    rows = [
        [
            system,
            len([r for r in runs if r["system"] == system]),
            f"{median(runs, system, 'seconds_per_step'):.2f}",
        ]
        for system in systems
    ]
    crowded, sparse = systems
    ratio = median(runs, crowded, "seconds_per_step") / median(runs, sparse, "seconds_per_step")
    rows.append([f"ratio {crowded} / {sparse}", "", f"{ratio:.2f}"])
    return tabulate(
        rows, headers=["training step", "repeats", "s/step (median)"], tablefmt="github"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--nuclei", metavar="DIR", required=True, help="the converted nuclei (see above)"
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--name", default="crowded_step", help="file name under benchmarks/results/"
    )
    parser.add_argument("overrides", nargs="*", help="KEY VALUE config overrides for both configs")
    args = parser.parse_args(argv)
    systems = {
        "nuclei config, nuclei": (NUCLEI_CONFIG, [*nuclei_datasets(args.nuclei), *args.overrides]),
        "demo config, shapes": (SHAPES_CONFIG, [*SHAPES_AT_256, *args.overrides]),
    }
    runs = run_alternating(
        systems,
        range(args.repeats),
        lambda system, seed: run(system, *systems[system], args.steps, seed),
    )
    text = table(runs, list(systems))
    print(text)
    return write_results(
        args.name,
        "Training step on crowded images: nuclei vs shapes at 256x256",
        f"{NUCLEI_CONFIG} on the nuclei in {args.nuclei} (256-px crops) and {SHAPES_CONFIG} with "
        f"{' '.join(SHAPES_AT_256)}, overrides {args.overrides}; median of {args.steps} steps "
        "after "
        f"{WARMUP_STEPS} warm-up steps, data wait included, {args.repeats} repeats alternating "
        "which runs first. "
        "The goal: a crowded step within 2x of a shapes step.",
        text,
        {"runs": runs},
    )


if __name__ == "__main__":
    main()
