"""The benchmark suite: every comparison, one after another, and a results page.

    python -m benchmarks run [--quick] [--nuclei DIR]
        [--only instance semantic semantic_nearest evaluation data_loading architectures
                training_speed]

Each comparison is a module that can also run alone (``python -m
benchmarks.<module> --help``); this entry point picks their sizes (``--quick`` fits
in about 20 minutes on a 2-core CPU) and collects their tables into
benchmarks/results/README.md. ``--nuclei DIR`` adds the Mask R-CNN comparison on the
real nuclei of the README's "Train on your own data", converted as it says into DIR
(nuclei_train.json, nuclei_val.json, stage1_train/; they are not shipped), the
step time on those crowded images against shapes (crowded_step) and the time each Mask
R-CNN takes to reach torchvision's accuracy (time_to_accuracy).
"""

import argparse
import os
import time

import seg_d2

from . import (
    architectures,
    coco_evaluation,
    comparison,
    crowded_step,
    data_loading,
    instance_torchvision,
    results_files,
    semantic_unet,
    time_to_accuracy,
    training_speed,
)

# The U-Net against smp with each decoder layout: seg_d2's bilinear upsampling + conv, and
# smp's (nearest-neighbour upsampling, no conv before the skip joins; unet.yaml's), to tell
# the decoder's cost from the rest.
BILINEAR_DECODER = ["MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE", "bilinear"]
NEAREST_DECODER = ["MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE", "nearest"]
SEMANTIC_QUICK = ["--seeds", "0", "1", "--iters", "12"]
SEMANTIC_FULL = ["--seeds", "0", "1", "--iters", "300"]
# name -> (module, arguments for --quick, arguments for the full run). The full runs of
# the peer comparisons (instance, semantic, semantic_nearest) took 1 h 56 min
# together on a 2-core CPU and write their own files (`*_full`) beside the quick ones.
COMPARISONS = {
    "instance": (
        instance_torchvision,
        ["--seeds", "0", "1", "--iters", "40"],
        ["--seeds", "0", "1", "--iters", "1000", "--name", "instance_torchvision_full"],
    ),
    "semantic": (
        semantic_unet,
        [*SEMANTIC_QUICK, *BILINEAR_DECODER],
        [*SEMANTIC_FULL, "--name", "semantic_unet_full", *BILINEAR_DECODER],
    ),
    "semantic_nearest": (
        semantic_unet,
        [*SEMANTIC_QUICK, "--name", "semantic_unet_nearest", *NEAREST_DECODER],
        [*SEMANTIC_FULL, "--name", "semantic_unet_nearest_full", *NEAREST_DECODER],
    ),
    "evaluation": (coco_evaluation, ["--repeats", "2"], []),
    "data_loading": (data_loading, ["--batches", "20", "--repeats", "2"], []),
    # The quick run writes its own file: architectures.md is the full-length table the
    # README quotes.
    "architectures": (
        architectures,
        ["--seeds", "0", "1", "--iters", "30", "--name", "architectures_quick"],
        [],
    ),
    "training_speed": (training_speed, ["--rounds", "2", "--steps", "25"], []),
}
# The nuclei comparison's sizes, each with its own file. Full: two seeds of half the nuclei
# config's schedule (its comment's 30-minute variant), so that the four trainings fit in
# about an hour on a 2-core CPU.
NUCLEI_QUICK = ["--seeds", "0", "--iters", "60", "--name", "instance_nuclei"]
# Time to accuracy: quick, one seed of 60 iterations evaluated twice, in its own file; full,
# the script's own sizes (2 seeds of 850 iterations, 10 evaluations: about 2 hours on 2 cores).
TIME_TO_ACCURACY_QUICK = [
    *("--seeds", "0", "--torchvision-iters", "60", "--evaluations", "2"),
    *("--name", "time_to_accuracy_nuclei_quick"),
]


def nuclei_sizes(quick):
    if quick:
        return NUCLEI_QUICK
    schedule = seg_d2.load_config(crowded_step.NUCLEI_CONFIG).SOLVER.MAX_ITER
    return ["--seeds", "0", "1", "--iters", str(schedule // 2), "--name", "instance_nuclei_full"]


def nuclei_arguments(folder):
    """instance_torchvision's arguments for the nuclei converted into ``folder``."""
    return ["--config-file", crowded_step.NUCLEI_CONFIG, *comparison.nuclei_datasets(folder)]


def write_page(sections, quick):
    """Collect the (name, Markdown path, seconds) sections into results/README.md, or
    results/full_length.md for a full run."""
    page = os.path.join(results_files.RESULTS, "README.md" if quick else "full_length.md")
    stamp = ", ".join(f"{key}: {value}" for key, value in results_files.machine().items())
    with open(page, "w") as f:
        f.write(
            "# seg_d2 benchmark results\n\n"
            f"Written by `python -m benchmarks run{' --quick' if quick else ''}` ({stamp}). "
            "Each section is one comparison run in one process, alternating the systems; "
            "the raw runs are in the JSON file of the same name.\n"
        )
        for name, markdown, seconds in sections:
            with open(markdown) as section:
                body = section.read().split("\n", 1)[1]  # drop the section's own title line
            f.write(f"\n## {name} ({os.path.basename(markdown)}, {seconds / 60:.1f} min)\n{body}")
    print(f"written: {page}")
    return page


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["run"])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: the whole suite in about 20 minutes"
    )
    parser.add_argument("--only", nargs="+", choices=list(COMPARISONS), default=list(COMPARISONS))
    parser.add_argument(
        "--nuclei",
        metavar="DIR",
        help="also compare on the nuclei converted into DIR "
        "(Mask R-CNNs, a crowded step against a shapes step, the semantic architectures)",
    )
    args = parser.parse_args(argv)
    runs = [
        (name, COMPARISONS[name][0], COMPARISONS[name][1 if args.quick else 2])
        for name in args.only
    ]
    if args.nuclei:
        runs.append(
            (
                "nuclei",
                instance_torchvision,
                nuclei_sizes(args.quick) + nuclei_arguments(args.nuclei),
            )
        )
        runs.append(("crowded_step", crowded_step, ["--nuclei", args.nuclei]))
        runs.append(
            (
                "time_to_accuracy",
                time_to_accuracy,
                (TIME_TO_ACCURACY_QUICK if args.quick else []) + ["--nuclei", args.nuclei],
            )
        )
        if "architectures" in args.only:
            runs.append(
                (
                    "architectures_nuclei",
                    architectures,
                    COMPARISONS["architectures"][1 if args.quick else 2]
                    + architectures.nuclei_arguments(args.nuclei),
                )
            )
    sections = []
    for name, module, arguments in runs:
        start = time.perf_counter()
        markdown = module.main(arguments)
        sections.append((name, markdown, time.perf_counter() - start))
    write_page(sections, args.quick)


if __name__ == "__main__":
    main()
