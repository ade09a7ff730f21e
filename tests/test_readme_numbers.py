"""Numbers the README, the manual (docs/) and the results notes quote equal the ones in
the results files the runs wrote: each entry names a row (by a phrase unique to all those
pages), the file, the value's path in it and how the page prints it. Editing a number in
a page, or a file, fails this test."""

import glob
import json
import os
import re

import pytest
import yaml
from helpers import REPO

RESULTS = "benchmarks/results"

# The U-Net's earlier run on another CPU, which the README quotes
UNET_RUN = [
    (
        "reached mIoU",
        "runs/shapes_unet_2026-12-02/results.json",
        ("sem_seg", "mIoU"),
        "reached mIoU {:.1f}",
    ),
    (
        "reached mIoU",
        "runs/shapes_unet_2026-12-02/run.json",
        ("seconds_per_iteration",),
        "with {:.2f} s/iteration",
    ),
]

# (a phrase of the README line, results file, keys to the value, how it is printed)
QUOTED = [
    (
        "- `MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE nearest`",
        "runs/shapes_unet_trial_nearest/results.json",
        ("sem_seg", "mIoU"),
        "mIoU {:.1f}",
    ),
    (
        "- `MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE nearest`",
        "runs/shapes_unet_trial_nearest/run.json",
        ("seconds_per_iteration",),
        "at {} s/iteration",
    ),
    (
        "- `MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE nearest`",
        "runs/shapes_unet_bilinear_seed0/run.json",
        ("seconds_per_iteration",),
        " and {} (",
    ),
    (
        "- `MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE nearest`",
        "runs/shapes_unet_bilinear_seed0/results.json",
        ("sem_seg", "mIoU"),
        "seed 0 at {:.1f} and",
    ),
    (
        "- Twice the budget: the config at 4200 iterations",
        "runs/shapes_unet_trial_4200it/results.json",
        ("sem_seg", "mIoU"),
        "mIoU {:.1f} in",
    ),
    (
        "- Twice the budget: the config at 4200 iterations",
        "runs/shapes_unet_trial_4200it/run.json",
        ("training_seconds",),
        "in {} s of training",
    ),
    (
        "- Against the overfitting, more augmentation",
        "runs/shapes_unet_trial_vflip_colour/results.json",
        ("sem_seg", "mIoU"),
        "mIoU {:.1f} (",
    ),
    (
        "- the Dice term with channels-last at 1400 iterations",
        "runs/shapes_demo_trial_dice_1400it/results.json",
        ("segm", "AP"),
        "mask AP {:.1f}",
    ),
    (
        "- the Dice term with channels-last at 1400 iterations",
        "runs/shapes_demo_trial_dice_1400it/run.json",
        ("training_seconds",),
        "{} s of training",
    ),
    (
        "- the same at 1200 iterations with a loader process",
        "runs/shapes_demo_trial_dice_1200it/results.json",
        ("segm", "AP"),
        "mask AP {:.1f}",
    ),
    (
        "- the same at 1200 iterations with a loader process",
        "runs/shapes_demo_trial_dice_1200it/run.json",
        ("training_seconds",),
        "in {} s",
    ),
    (
        "its 0.4842 s/iteration against seed 0's",
        "runs/shapes_mask_rcnn_R18_FPN_seed2/run.json",
        ("seconds_per_iteration",),
        "its {} s/iteration",
    ),
    (
        "its 0.4842 s/iteration against seed 0's",
        "runs/shapes_mask_rcnn_R18_FPN_seed0/run.json",
        ("seconds_per_iteration",),
        "seed 0's {},",
    ),
    (
        "- Where the mIoU is lost: the nearest trial's model",
        "runs/shapes_unet_trial_nearest_train_vs_val/results.json",
        ("shapes_train_sem_seg", "sem_seg", "mIoU"),
        "scores mIoU {:.1f} on its own training images",
    ),
    (
        "- Where the mIoU is lost: the nearest trial's model",
        "runs/shapes_unet_trial_nearest_train_vs_val/results.json",
        ("shapes_val_sem_seg", "sem_seg", "mIoU"),
        "against {:.1f} on `shapes_val`",
    ),
    (
        "- The full-resolution detail for those small shapes",
        "runs/shapes_unet_trial_unshuffle2_256px/results.json",
        ("sem_seg", "mIoU"),
        "mIoU {:.1f} in",
    ),
    (
        "- The full-resolution detail for those small shapes",
        "runs/shapes_unet_trial_unshuffle2_256px/run.json",
        ("training_seconds",),
        "in {} s of training",
    ),
    (
        "- autocast alone for 1200 iterations:",
        "runs/shapes_demo_trial_amp_1200it/results.json",
        ("segm", "AP"),
        "mask AP {:.1f}",
    ),
    (
        "- 1200 iterations on a cosine schedule,",
        "runs/shapes_demo_trial_amp_1200it_cosine_sampling1/results.json",
        ("segm", "AP"),
        "mask AP {:.1f}",
    ),
    (
        "- Mask R-CNN inference, profiled",
        "profile_shapes_mask_rcnn_R18_FPN_seed0.json",
        ("ms_per_image", "backbone"),
        "backbone {:.1f} ms",
    ),
    (
        "- Mask R-CNN inference, profiled",
        "profile_shapes_mask_rcnn_R18_FPN_seed0.json",
        ("ms_per_image", "RPN"),
        "RPN {:.1f} ms",
    ),
    (
        "- Mask R-CNN inference, profiled",
        "profile_shapes_mask_rcnn_R18_FPN_seed0.json",
        ("ms_per_image", "RoI heads"),
        "RoI heads {:.1f} ms",
    ),
    (
        "- Mask R-CNN inference, profiled",
        "profile_shapes_mask_rcnn_R18_FPN_seed0.json",
        ("ms_per_image", "RoIAlign (in RoI heads)"),
        "RoIAlign {:.1f} ms of it",
    ),
    (
        "- Mask R-CNN inference, profiled",
        "profile_shapes_mask_rcnn_R18_FPN_seed0.json",
        ("ms_per_image", "mask pasting (postprocess)"),
        "mask pasting {:.1f} ms",
    ),
    (
        "- Mask R-CNN inference, profiled",
        "profile_shapes_mask_rcnn_R18_FPN_seed0.json",
        ("ms_per_image", "total"),
        "{:.1f} ms in all",
    ),
    (
        "- Mask R-CNN inference, profiled",
        "profile_shapes_mask_rcnn_R18_FPN_seed0.json",
        ("detections_per_image",),
        "at {:.1f} detections/image",
    ),
    (
        "| Mask R-CNN, seg_d2's head (the config as it is: 1700 iterations)",
        "runs/nuclei_mask_rcnn_R18_FPN_1700it_cosine/results.json",
        ("segm", "AP"),
        "**mask AP {:.1f}**",
    ),
    (
        "The nuclei config reaches",
        "runs/nuclei_mask_rcnn_R18_FPN_1700it_cosine/results.json",
        ("segm", "AP"),
        "reaches mask AP {:.1f} on",
    ),
    (
        "| Mask R-CNN, seg_d2's head (the config as it is: 1700 iterations)",
        "runs/nuclei_mask_rcnn_R18_FPN_1700it_cosine/results.json",
        ("bbox", "AP"),
        "box AP {:.1f}",
    ),
    (
        "| the same config at 850 iterations",
        "runs/nuclei_mask_rcnn_R18_FPN_850it_cosine/results.json",
        ("segm", "AP"),
        "mask AP {:.1f}",
    ),
    (
        "| the same config at 850 iterations",
        "tta_nuclei_mask_rcnn.json",
        ("runs", "tta", "metrics", "segm/AP"),
        "**mask AP {:.1f}**",
    ),
    (
        "| U-Net, nucleus vs background",
        "runs/nuclei_unet/results.json",
        ("sem_seg", "mIoU"),
        "**mIoU {:.1f}**",
    ),
    (
        "| shapes Mask R-CNN, the demo's config",
        "tta_shapes_mask_rcnn.json",
        ("runs", "plain", "metrics", "segm/AP"),
        "| mask AP {:.1f},",
    ),
    (
        "| shapes Mask R-CNN, the demo's config",
        "tta_shapes_mask_rcnn.json",
        ("runs", "tta", "metrics", "segm/AP"),
        "mask AP **{:.1f}**",
    ),
    (
        "| shapes U-Net ([run]",
        "tta_shapes_unet.json",
        ("runs", "tta", "metrics", "sem_seg/mIoU"),
        "mIoU **{:.1f}**",
    ),
    (
        "also move with the CPU:",
        "runs/shapes_mask_rcnn_R18_FPN_2026-12-02/results.json",
        ("segm", "AP"),
        "mask AP {:.1f}",
    ),
    (
        "| seg_d2/evaluation |",
        "mutation.json",
        ("packages", "seg_d2/evaluation", "score"),
        "| {:.1f} | 85 |",
    ),
    (
        "| seg_d2/engine |",
        "mutation.json",
        ("packages", "seg_d2/engine", "score"),
        "| {:.1f} | 70 |",
    ),
    (
        "| seg_d2 (top-level modules) |",
        "mutation.json",
        ("packages", "seg_d2", "score"),
        "| {:.1f} | 70 |",
    ),
    (
        "| overall |",
        "mutation.json",
        ("overall",),
        "| {:.1f} | 70 |",
    ),
    (
        "| seg_d2/data |",
        "mutation.json",
        ("packages", "seg_d2/data", "mutants"),
        "| {} |",
    ),
    (
        "| seg_d2/data |",
        "mutation.json",
        ("packages", "seg_d2/data", "caught"),
        "| {} |",
    ),
    (
        "| seg_d2/data |",
        "mutation.json",
        ("packages", "seg_d2/data", "survived"),
        "| {} |",
    ),
    (
        "| seg_d2/data |",
        "mutation.json",
        ("packages", "seg_d2/data", "equivalent"),
        "| {} |",
    ),
    (
        "| seg_d2/data |",
        "mutation.json",
        ("packages", "seg_d2/data", "help text"),
        "| {} |",
    ),
    (
        "| seg_d2/data |",
        "mutation.json",
        ("packages", "seg_d2/data", "not checked"),
        "| {} |",
    ),
    (
        "| seg_d2/data |",
        "mutation.json",
        ("packages", "seg_d2/data", "score"),
        "| {:.1f} | 85 |",
    ),
    (
        "| seg_d2/modeling |",
        "mutation.json",
        ("packages", "seg_d2/modeling", "score"),
        "| {:.1f} | 85 |",
    ),
    (
        "| seg_d2/modeling |",
        "mutation.json",
        ("packages", "seg_d2/modeling", "not checked"),
        "| {} |",
    ),
    (
        "| 2 processes (gloo), 1 core each |",
        "multi_process.json",
        ("speed_up",),
        "**{:.2f}x**",
    ),
    (
        "| 8000 x 8000 | windows of 512 |",
        "large_image.json",
        ("runs", 2, "peak_MiB"),
        "| {:.0f} MiB |",
    ),
] + UNET_RUN


# README rows of runs over several seeds (benchmarks/seed_runs.py): the row's label, the
# seeds file and the metric ("wall" for minutes); the row reads
# | label | one value per seed | mean | lowest-highest |
# The demo's seeds, one file per CPU (the README's row labels end with the CPU's model).
DEMO_SEEDS = {
    "model 17": "seeds_shapes_mask_rcnn_R18_FPN.json",
    "model 1": "seeds_shapes_mask_rcnn_R18_FPN_family25_model1.json",
}
SEED_ROWS = [
    (f"| demo {name}, {cpu} |", file, metric)
    for name, metric in [
        ("mask AP", "segm/AP"),
        ("box AP", "bbox/AP"),
        ("mask AP50", "segm/AP50"),
        ("mask AP75", "segm/AP75"),
        ("training time (min)", "training"),
        ("wall time (min)", "wall"),
    ]
    for cpu, file in DEMO_SEEDS.items()
] + [
    ("| U-Net mIoU |", "seeds_shapes_unet.json", "sem_seg/mIoU"),
    ("| U-Net fwIoU |", "seeds_shapes_unet.json", "sem_seg/fwIoU"),
    ("| U-Net pACC |", "seeds_shapes_unet.json", "sem_seg/pACC"),
    ("| U-Net wall time (min) |", "seeds_shapes_unet.json", "wall"),
    ("| U-Net mIoU, bilinear decoder |", "seeds_shapes_unet_bilinear.json", "sem_seg/mIoU"),
    (
        "| U-Net wall time (min), bilinear decoder |",
        "seeds_shapes_unet_bilinear.json",
        "wall",
    ),
    ("| panoptic PQ |", "seeds_shapes_panoptic_fpn_R18.json", "panoptic_seg/PQ"),
    ("| panoptic PQ things |", "seeds_shapes_panoptic_fpn_R18.json", "panoptic_seg/PQ_th"),
    ("| panoptic PQ stuff |", "seeds_shapes_panoptic_fpn_R18.json", "panoptic_seg/PQ_st"),
    ("| panoptic mask AP |", "seeds_shapes_panoptic_fpn_R18.json", "segm/AP"),
    ("| panoptic mIoU |", "seeds_shapes_panoptic_fpn_R18.json", "sem_seg/mIoU"),
    ("| panoptic wall time (min) |", "seeds_shapes_panoptic_fpn_R18.json", "wall"),
    ("| post-hoc PQ |", "seeds_shapes_posthoc_panoptic.json", "panoptic_seg/PQ"),
    ("| post-hoc SQ |", "seeds_shapes_posthoc_panoptic.json", "panoptic_seg/SQ"),
    ("| post-hoc RQ |", "seeds_shapes_posthoc_panoptic.json", "panoptic_seg/RQ"),
    ("| post-hoc PQ things |", "seeds_shapes_posthoc_panoptic.json", "panoptic_seg/PQ_th"),
    ("| post-hoc PQ stuff |", "seeds_shapes_posthoc_panoptic.json", "panoptic_seg/PQ_st"),
    ("| post-hoc wall time (min) |", "seeds_shapes_posthoc_panoptic.json", "wall"),
]

# The export table's rows and, for each runtime in its file's order, how its ms/image prints.
EXPORT_ROWS = {
    "| shapes Mask R-CNN (raw detections)": "export_shapes_mask_rcnn.json",
    "| shapes U-Net (logits)": "export_shapes_unet.json",
}
EXPORT_COLUMNS = ["| {:.1f} ms/image |", "| {:.1f} (1.", "| {:.1f} (**1.", "| {:.1f} at batch 8 ("]
QUOTED += [
    (phrase, file, ("runs", runtime, "ms_per_image"), printed)
    for phrase, file in EXPORT_ROWS.items()
    for runtime, printed in enumerate(EXPORT_COLUMNS)
]


def _seed_cells(file, metric):
    runs = _value(file, ("runs",))
    if metric in ("wall", "training"):  # minutes, from the run's seconds
        values = [run[f"{metric}_seconds"] / 60 for run in runs]
    else:
        values = [run["metrics"][metric] for run in runs]
    mean = sum(values) / len(values)
    return [f"{v:.1f}" for v in values] + [f"{mean:.1f}", f"{min(values):.1f}-{max(values):.1f}"]


def quoting_pages():
    """The pages that quote results: the README, the manual, the results notes."""
    return [os.path.join(REPO, "README.md")] + sorted(
        glob.glob(os.path.join(REPO, "docs", "*.md"))
        + glob.glob(os.path.join(REPO, RESULTS, "notes", "*.md"))
    )


def _pages_text():
    texts = []
    for page in quoting_pages():
        with open(page, encoding="utf-8") as f:
            texts.append(f.read())
    return "\n".join(texts)


def _readme_line(phrase):
    lines = [line for line in _pages_text().splitlines() if line.startswith(phrase)]
    assert len(lines) == 1, f"{len(lines)} lines of the pages start with {phrase!r}"
    return lines[0]


def _readme_bullet(phrase):
    """The bullet that starts with ``phrase``, its lines joined by single spaces."""
    return _joined_lines(phrase, "\n- ")


def _paragraph(phrase):
    """The paragraph of the pages that starts with ``phrase``, its lines joined."""
    return _joined_lines(phrase, "\n\n")


def _joined_lines(phrase, until):
    """The pages' text from ``phrase`` (once in them) to ``until``, joined by single spaces."""
    text = _pages_text()
    assert text.count(phrase) == 1, phrase
    start = text.index(phrase)
    return " ".join(text[start : text.find(until, start)].split())


def _assert_headline(results_markdown, headline):
    """The benchmark's Markdown ends with its headline line."""
    with open(os.path.join(REPO, RESULTS, results_markdown)) as f:
        assert f.read().rstrip().endswith(headline)


def _value(file, keys):
    with open(os.path.join(REPO, RESULTS, file)) as f:
        value = json.load(f)
    for key in keys:
        value = value[key]
    return value


@pytest.mark.parametrize("phrase, file, keys, printed", QUOTED)
def test_the_readme_quotes_the_results_file(phrase, file, keys, printed):
    expected = printed.format(_value(file, keys))
    assert expected in _readme_line(phrase), f"README should say {expected!r} ({file})"


def test_the_readmes_nuclei_run_trained_in_under_half_an_hour():
    seconds = _value("runs/nuclei_mask_rcnn_R18_FPN_1700it_cosine/run.json", ("training_seconds",))
    assert seconds < 30 * 60
    assert "in under half an hour" in _pages_text().split("The nuclei config reaches", 1)[1][:120]


def test_the_check_tells_a_changed_number_apart():
    phrase, file, keys, printed = QUOTED[0]
    assert printed.format(_value(file, keys) + 0.1) not in _readme_line(phrase)


@pytest.mark.parametrize("label, file, metric", SEED_ROWS)
def test_the_readme_shows_every_seed_and_the_spread(label, file, metric):
    expected = label + " " + " | ".join(_seed_cells(file, metric)) + " |"
    assert _readme_line(label).startswith(expected), f"README should say {expected!r}"


def test_the_seed_check_tells_a_changed_number_apart():
    label, file, metric = SEED_ROWS[0]
    cells = _seed_cells(file, metric)
    cells[1] = f"{float(cells[1]) + 0.1:.1f}"
    assert not _readme_line(label).startswith(label + " " + " | ".join(cells) + " |")


@pytest.mark.parametrize("cpu, file", DEMO_SEEDS.items())
def test_the_readme_names_the_commit_each_demo_seeds_file_was_measured_at(cpu, file):
    commit = _value(file, ("machine", "commit"))
    page = file.replace(".json", ".md")
    said = (
        re.escape(f'"{cpu}" is family 25, {cpu} (')
        + r"b?float\d+\), "
        + re.escape(f"at commit {commit} ([{page}]")
    )
    assert re.search(said, " ".join(_pages_text().split())), f"README should say {said!r}"


@pytest.mark.parametrize("cpu, file", DEMO_SEEDS.items())
def test_the_demos_own_run_is_one_of_the_seeds(cpu, file):
    """`make demo` trains the demo's config with its own SEED: the README's seed-0 column
    is that run (same config, same seed, no other override), on the CPU its rows name."""
    from seg_d2 import load_config

    from helpers import load_module

    config = load_module("tools/demo.py").CONFIG
    assert _value(file, ("config",)) == config and _value(file, ("overrides",)) == []
    assert _value(file, ("runs", 0, "seed")) == load_config(config).SEED
    assert _value(file, ("machine", "cpu")) == f"AMD EPYC (family 25, {cpu})"


def test_the_readme_shows_the_architecture_comparison_of_its_results_file():
    from benchmarks.comparison import median, spread

    with open(os.path.join(REPO, RESULTS, "architectures.json")) as f:
        runs = json.load(f)["runs"]
    systems = list(dict.fromkeys(run["system"] for run in runs))
    assert len(systems) == 7
    for system in systems:
        params = next(run["params_M"] for run in runs if run["system"] == system)
        cells = [
            system,
            f"{params:.1f}",
            spread(runs, system, "mIoU"),
            f"{median(runs, system, 'train_images_per_s'):.1f}",
            f"{median(runs, system, 'inference_images_per_s'):.1f}",
            f"{median(runs, system, 'peak_train_memory_MiB'):.0f}",
        ]
        assert _readme_line(f"| {system} |").startswith("| " + " | ".join(cells) + " |")


def _ratio(file, ours, theirs, key, runs_filter=lambda run: True):
    from benchmarks.comparison import median

    runs = [run for run in _value(file, ("runs",)) if runs_filter(run)]
    return median(runs, ours, key) / median(runs, theirs, key)


def test_the_readme_quotes_the_quick_comparisons_of_their_results_files():
    """The Benchmarks table's ratios, recomputed from each comparison's JSON."""
    from benchmarks.comparison import median

    file, ours, theirs = "instance_torchvision.json", "seg_d2 Mask R-CNN", "torchvision MaskRCNN"
    instance = _readme_line("| Mask R-CNN, the demo's config, same loader")
    for key, text in (
        ("train_iters_per_s", "train it/s {:.2f}x"),
        ("inference_ms_batch1", "inference ms/image {:.2f}x (batch 1)"),
        ("inference_ms_best_batch", "and {:.2f}x (best batch)"),
        ("peak_train_memory_MiB", "peak train memory {:.2f}x"),
    ):
        assert text.format(_ratio(file, ours, theirs, key)) in instance, key
    runs = _value(file, ("runs",))
    detections = [median(runs, system, "detections_per_image") for system in (ours, theirs)]
    assert "at {:.1f} vs {:.1f} detections/image".format(*detections) in instance

    file, ours, theirs = "semantic_unet.json", "seg_d2 UNet", "smp Unet (vgg13_bn)"
    semantic = _readme_line("| U-Net, 64 channels capped at 512, same loader")
    assert f"train images/s {_ratio(file, ours, theirs, 'train_images_per_s'):.2f}x" in semantic
    assert (
        f"inference images/s {_ratio(file, ours, theirs, 'inference_images_per_s'):.2f}x"
        in semantic
    )
    runs = _value(file, ("runs",))
    assert "mIoU {:.1f} vs {:.1f}".format(*(median(runs, s, "mIoU") for s in (ours, theirs))) in (
        semantic
    )

    evaluation = _readme_line("| COCO evaluation of 100,000 detections")
    for iou_type, text in (("bbox", "{:.1f}x faster (bbox)"), ("segm", "{:.1f}x (segm)")):
        speed_up = _ratio(
            "coco_evaluation.json",
            "pycocotools COCOeval",
            "seg_d2 (COCOEvaluator path)",
            "seconds",
            lambda run, iou_type=iou_type: run["iou_type"] == iou_type,
        )
        assert text.format(speed_up) in evaluation, iou_type

    loading = _readme_line("| training data loader with augmentation")
    runs = _value("data_loading.json", ("runs",))
    for task in ("instance", "semantic"):
        rates = [median(runs, f"{task}, {n} worker(s)", "images_per_s") for n in (1, 2)]
        assert "{} {:.1f} / {:.1f} images/s".format(task, *rates) in loading, task

    steps = _readme_line("| Mask R-CNN training step, the demo's speed settings")
    base = "float32 (base config)"
    for variant, text in (
        ("+ bfloat16 autocast", "bfloat16 autocast {:.2f}x"),
        ("+ RPN 500/250 proposals in training", "+ RPN 500/250 {:.2f}x"),
        ("+ 1 RoIAlign sample per box bin", "+ one RoIAlign sample per box bin {:.2f}x"),
        ("+ channels-last", "+ channels-last {:.2f}x"),
        ("+ loading in the training process, Dice term (the demo)", "(the demo) {:.2f}x"),
    ):
        speed_up = _ratio("training_speed.json", variant, base, "train_iters_per_s")
        assert text.format(speed_up) in steps, variant


def test_the_readme_quotes_the_inference_stages_side_by_side():
    """The "Where seg_d2 loses" bullet on Mask R-CNN inference quotes the stage table of
    instance_torchvision.json: each stage's median over seeds, seg_d2's then torchvision's."""
    from benchmarks.comparison import median

    runs = [
        {"system": run["system"], **run["stage_ms_batch1"]}
        for run in _value("instance_torchvision.json", ("runs",))
    ]

    def stage(name):
        return [
            median(runs, system, name) for system in ("seg_d2 Mask R-CNN", "torchvision MaskRCNN")
        ]

    heads, roi_align = stage("RoI heads"), stage("RoIAlign (in RoI heads)")
    bullet = _readme_bullet("- Mask R-CNN inference, side by side")
    for printed, values in (
        ("({:.1f} vs {:.1f} ms)", stage("backbone")),
        ("RPN {:.1f} vs {:.1f} ms", stage("RPN")),
        ("({:.1f} vs {:.1f} ms: one sample", roi_align),
        ("({:.1f} vs {:.1f} ms: the mask head", [h - r for h, r in zip(heads, roi_align)]),
        ("{:.1f} vs {:.1f} ms in all", stage("total")),
    ):
        assert printed.format(*values) in bullet, printed


# A Mask R-CNN comparison's systems and quoted columns (the shapes and the nuclei rows).
MASK_RCNN_COMPARISON = (
    "seg_d2 Mask R-CNN",
    "torchvision MaskRCNN",
    (("mask AP {} vs {}", "mask_AP"), ("(box AP {} vs {})", "box_AP")),
    (
        ("train it/s {:.2f}x", "train_iters_per_s"),
        ("inference ms/image {:.2f}x (batch 1)", "inference_ms_batch1"),
        ("and {:.2f}x (best batch)", "inference_ms_best_batch"),
    ),
)


@pytest.mark.parametrize(
    "phrase, file, ours, theirs, accuracy, speeds",
    [
        (
            "| Mask R-CNN, the demo's config, 1000 iterations",
            "instance_torchvision_full.json",
            *MASK_RCNN_COMPARISON,
        ),
        (
            "| Mask R-CNN on the real nuclei, the nuclei config at 850 iterations",
            "instance_nuclei_full.json",
            *MASK_RCNN_COMPARISON,
        ),
        (
            "| U-Net, 64 channels capped at 512, 300 iterations",
            "semantic_unet_full.json",
            "seg_d2 UNet",
            "smp Unet (vgg13_bn)",
            (("mIoU {} vs {}", "mIoU"),),
            (
                ("train images/s {:.2f}x", "train_images_per_s"),
                ("inference images/s {:.2f}x", "inference_images_per_s"),
            ),
        ),
        (
            "| the same U-Net with smp's decoder layout",
            "semantic_unet_nearest_full.json",
            "seg_d2 UNet",
            "smp Unet (vgg13_bn)",
            (("mIoU {} vs {}", "mIoU"),),
            (
                ("train images/s {:.2f}x", "train_images_per_s"),
                ("inference images/s {:.2f}x", "inference_images_per_s"),
            ),
        ),
    ],
)
def test_the_readme_quotes_the_full_length_comparisons(
    phrase, file, ours, theirs, accuracy, speeds
):
    """The full-length table's accuracy ('mean ± half range' over seeds) and speed ratios
    (medians over seeds), recomputed from each comparison's JSON."""
    from benchmarks.comparison import median, spread

    row = _readme_line(phrase)
    runs = _value(file, ("runs",))
    for printed, key in accuracy:
        assert printed.format(spread(runs, ours, key), spread(runs, theirs, key)) in row, key
    for printed, key in speeds:
        assert printed.format(_ratio(file, ours, theirs, key)) in row, key
    if "detections_per_image" in runs[0]:
        detections = [median(runs, system, "detections_per_image") for system in (ours, theirs)]
        assert "at {:.1f} vs {:.1f} detections/image".format(*detections) in row


@pytest.mark.parametrize("phrase, file", EXPORT_ROWS.items())
def test_the_readme_quotes_the_predictors_best_batch_throughput(phrase, file):
    """images/s at the best batch, from the export benchmark's last run."""
    batched = _value(file, ("runs", 3))
    printed = "at batch {} ({:.1f} images/s)".format(
        batched["runtime"].rsplit(" ", 1)[1], 1000 / batched["ms_per_image"]
    )
    assert printed in _readme_line(phrase)


def test_the_manual_quotes_the_transfer_benchmark():
    """Fine-tuned and from-scratch means, the source model alone and the gain, from the
    benchmark's JSON; its Markdown ends with the headline line of that gain."""
    data = _value("transfer_nuclei.json", ())
    by_system = {
        system: [run["mask_AP"] for run in data["runs"] if run["system"] == system]
        for system in ("fine-tuned", "from scratch")
    }
    line = _readme_line("On the real nuclei, fine-tuning")
    for printed in (
        "reaches mask AP {:.1f} on".format(sum(by_system["fine-tuned"]) / 2),
        "against {:.1f} from scratch".format(sum(by_system["from scratch"]) / 2),
        "; mask AP {:.1f} on the other kind as it is)".format(data["source_mask_AP"]),
        "a gain of {:.1f} (mean over 2 seeds".format(data["gain"]),
    ):
        assert printed in line, printed
    _assert_headline("transfer_nuclei.md", f"headline: gain = {data['gain']:.1f}; seeds = 2")


@pytest.mark.parametrize(
    "run",
    sorted(glob.glob(os.path.join(REPO, RESULTS, "runs", "*", ""))),
    ids=lambda path: os.path.basename(os.path.dirname(path)),
)
def test_a_run_record_keeps_the_command_results_and_the_configs_difference_alone(run):
    """Not the whole dumped config (~350 lines): its difference from a committed config
    that exists, which with the command and commit is enough to run it again."""
    assert {"run.json", "results.json"} <= set(os.listdir(run))
    assert "config.yaml" not in os.listdir(run)
    if os.path.exists(os.path.join(run, "config_diff.yaml")):
        with open(os.path.join(run, "config_diff.yaml")) as f:
            difference = yaml.safe_load(f)
        assert os.path.isfile(os.path.join(REPO, difference["config_file"]))
        assert (
            difference["config_file"] in json.load(open(os.path.join(run, "run.json")))["command"]
        )
        assert len(difference["changed"]) < 40


def test_the_manual_quotes_the_scale_benchmark():
    """The ratios at COCO's size and the derivation's time, from the benchmark's JSON; its
    Markdown ends with the headline line of the first registration."""
    runs = _value("scale_coco.json", ("runs",))

    def run(images, step):
        return next(r for r in runs if r["images"] == images and r["step"] == step)

    first = run(118287, "seg_d2 registration + validation")
    later = run(118287, "seg_d2 registration, validated before")
    baseline = run(118287, "load_coco_json")
    line = _readme_line("At COCO's size")
    for printed in (
        f"118,287 images and {first['annotations']:,} instances",
        f"takes {first['time_ratio']:.2f}x the time of",
        f"({first['seconds']:.0f} s against {baseline['seconds']:.0f} s)",
        f"at {first['memory_ratio']:.2f}x its peak memory",
        f"the first, {later['time_ratio']:.2f}x.",
        f"took {run(10000, 'derived ground truth')['seconds'] / 10:.1f} s per 1,000 images",
    ):
        assert printed in line, printed
    _assert_headline(
        "scale_coco.md",
        f"headline: images = 118287; time ratio = {first['time_ratio']:.2f}; "
        f"memory ratio = {first['memory_ratio']:.2f}",
    )


def test_the_manual_quotes_the_cpu_deployment_benchmark():
    """Each model's int8 and float speedups and scores against eager, from the benchmark's
    JSON; its Markdown ends with the headline of the Mask R-CNN's int8 backend."""
    rows = {
        model: {row["backend"]: row for row in _value("cpu_deploy_nuclei.json", (model, "rows"))}
        for model in ("Mask R-CNN", "U-Net")
    }
    mask_rcnn, unet = rows["Mask R-CNN"], rows["U-Net"]
    int8, every_layer = "ONNX Runtime, int8", "ONNX Runtime, int8, all layers"
    paragraph = _paragraph("On the nuclei validation split (`python -m benchmarks.cpu_deploy`")
    for printed in (
        "Mask R-CNN at {:.2f}x eager PyTorch's images per second with mask AP {:.1f} against "
        "{:.1f}".format(
            mask_rcnn[int8]["speedup"],
            mask_rcnn[int8]["score"],
            mask_rcnn["eager PyTorch"]["score"],
        ),
        "U-Net at {:.2f}x with mIoU {:.1f} against {:.1f}".format(
            unet[int8]["speedup"], unet[int8]["score"], unet["eager PyTorch"]["score"]
        ),
        "float, {:.2f}x and {:.2f}x with the same scores".format(
            mask_rcnn["ONNX Runtime, float"]["speedup"], unet["ONNX Runtime, float"]["speedup"]
        ),
        "Mask R-CNN {:.2f}x at mask AP {:.1f}.".format(
            mask_rcnn[every_layer]["speedup"], mask_rcnn[every_layer]["score"]
        ),
    ):
        assert printed in paragraph, printed
    for model in rows.values():  # "the same scores"
        assert round(model["ONNX Runtime, float"]["score"], 1) == round(
            model["eager PyTorch"]["score"], 1
        )
    _assert_headline(
        "cpu_deploy_nuclei.md",
        f"headline: speedup = {mask_rcnn[int8]['speedup']:.2f}; "
        f"mask AP drop = {mask_rcnn[int8]['drop']:.1f}",
    )


def test_the_benchmarks_page_quotes_the_time_to_accuracy_trial():
    """The trial's ratio, final mask APs and mid-schedule APs, from its JSON; its Markdown
    ends with its headline."""
    name = "time_to_accuracy_nuclei_trial_ema0.99"
    data = _value(f"{name}.json", ())
    seg_d2_run = data["systems"]["seg_d2 Mask R-CNN"]
    torchvision_run = data["systems"]["torchvision MaskRCNN"]
    paragraph = _paragraph("Time to accuracy (`python -m benchmarks.time_to_accuracy")
    at_510 = {
        run["system"]: next(p["mask_AP"] for p in run["curve"] if p["iteration"] == 510)
        for run in data["runs"]
    }
    for printed in (
        f"reached it in {data['ratio']:.2f} of torchvision's time",
        "with final mask AP {:.1f} against {:.1f}".format(
            seg_d2_run["final_mask_AP"], torchvision_run["final_mask_AP"]
        ),
        "({:.1f} against {:.1f} at 510 iterations)".format(
            at_510["seg_d2 Mask R-CNN"], at_510["torchvision MaskRCNN"]
        ),
        f"`{' '.join(data['overrides'])}`",
        "about the same time ({:.1f} and {:.1f} minutes)".format(
            seg_d2_run["training_seconds"] / 60, torchvision_run["training_seconds"] / 60
        ),
    ):
        assert " ".join(printed.split()) in paragraph, printed
    _assert_time_to_accuracy_headline(name, data)


def test_the_benchmarks_page_quotes_the_two_seed_time_to_accuracy():
    """The file the goal is judged on: its ratio (or "not reached"), seed 1's final APs, the
    means and the runs' step rates, from its JSON; its Markdown ends with its headline."""
    name = "time_to_accuracy_nuclei"
    data = _value(f"{name}.json", ())
    runs = {(run["system"], run["seed"]): run for run in data["runs"]}
    means = data["systems"]
    paragraph = _paragraph("Time to accuracy (`python -m benchmarks.time_to_accuracy")
    for printed in (
        f"`--reuse {data['reused_from']}`",
        'the ratio is "not reached"' if data["ratio"] is None else f"ratio {data['ratio']:.2f}",
        "on seed 1 seg_d2 ends at mask AP {:.2f} against torchvision's {:.2f}".format(
            runs["seg_d2 Mask R-CNN", 1]["curve"][-1]["mask_AP"],
            runs["torchvision MaskRCNN", 1]["curve"][-1]["mask_AP"],
        ),
        "the means of the two seeds are {:.1f} against {:.1f}".format(
            means["seg_d2 Mask R-CNN"]["final_mask_AP"],
            means["torchvision MaskRCNN"]["final_mask_AP"],
        ),
        "({:.2f} iterations per second against {:.2f} on seed 0".format(
            runs["seg_d2 Mask R-CNN", 1]["train_iters_per_s"],
            runs["seg_d2 Mask R-CNN", 0]["train_iters_per_s"],
        ),
        "torchvision's seed-1 run beside it kept {:.2f})".format(
            runs["torchvision MaskRCNN", 1]["train_iters_per_s"]
        ),
    ):
        assert " ".join(printed.split()) in paragraph, printed
    assert data["overrides"] == _value("time_to_accuracy_nuclei_trial_ema0.99.json", ("overrides",))
    _assert_time_to_accuracy_headline(name, data)


def test_the_benchmarks_page_quotes_the_speed_settings_on_the_nuclei():
    """autocast's and all the demo's settings' step speed over float32 on the nuclei config,
    the command that measured them and the CPU, from training_speed_nuclei.json."""
    file, base = "training_speed_nuclei.json", "float32 (base config)"
    paragraph = _paragraph("On the nuclei the demo's speed settings do not shorten a step.")
    autocast = _ratio(file, "+ bfloat16 autocast", base, "train_iters_per_s")
    demo_row = "+ loading in the training process, Dice term (the demo)"
    demo = _ratio(file, demo_row, base, "train_iters_per_s")
    for printed in (
        f"`python -m benchmarks.training_speed --config {_value(file, ('config',))}",
        f"bfloat16 autocast runs a step at {autocast:.2f}x the speed of float32",
        f"with every setting of the demo at {demo:.2f}x",
        f"(that file's CPU: {_value(file, ('machine', 'cpu'))};",
        "(the demo's {:.2f}x is on the shapes, on an {}".format(
            _ratio("training_speed.json", demo_row, base, "train_iters_per_s"),
            _value("training_speed.json", ("machine", "cpu")).split(" (")[0],
        ),
        "the time to accuracy files above: an {})".format(
            _value("time_to_accuracy_nuclei.json", ("machine", "cpu")).split(" (")[0]
        ),
    ):
        assert " ".join(printed.split()) in paragraph, printed


def _assert_time_to_accuracy_headline(name, data):
    ratio = "not reached" if data["ratio"] is None else f"{data['ratio']:.2f}"
    _assert_headline(
        f"{name}.md",
        f"headline: time-to-accuracy ratio = {ratio}; seg_d2 final mask AP = "
        f"{data['systems']['seg_d2 Mask R-CNN']['final_mask_AP']:.1f}; torchvision final mask "
        f"AP = {data['systems']['torchvision MaskRCNN']['final_mask_AP']:.1f}",
    )
