"""Numbers the README quotes equal the ones in the results files the runs wrote: each
entry names a README row (by a phrase unique to it), the file, the value's path in it and
how the README prints it. Editing a number in the README, or a file, fails this test."""

import json
import os

import pytest
from conftest import REPO

RESULTS = "benchmarks/results"

# (a phrase of the README line, results file, keys to the value, how it is printed)
QUOTED = [
    (
        "| Mask R-CNN, seg_d2's head (the config as it is: 1700 iterations)",
        "runs/nuclei_mask_rcnn_R18_FPN_1700it_cosine/results.json",
        ("segm", "AP"),
        "**mask AP {:.1f}**",
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
        "| shapes Mask R-CNN (raw detections)",
        "export_shapes_mask_rcnn.json",
        ("runs", 2, "ms_per_image"),
        "| {:.1f} (",
    ),
    (
        "| shapes U-Net (logits)",
        "export_shapes_unet.json",
        ("runs", 2, "ms_per_image"),
        "| {:.1f} (",
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
]


def _readme_line(phrase):
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        lines = [line for line in f if line.startswith(phrase)]
    assert len(lines) == 1, f"{len(lines)} README lines start with {phrase!r}"
    return lines[0]


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


def test_the_check_tells_a_changed_number_apart():
    phrase, file, keys, printed = QUOTED[0]
    assert printed.format(_value(file, keys) + 0.1) not in _readme_line(phrase)


def test_the_readme_shows_the_architecture_comparison_of_its_results_file():
    from benchmarks.common import median, spread

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
