"""Smoke test of the benchmark suite at tiny sizes: every comparison runs, writes its
table with the promised columns and its JSON with finite metrics. No timings are
asserted (performance is measured by the suite itself, not by tests)."""

import ast
import json
import math
import os

import seg_d2

import pytest
import torch
import yaml
from helpers import MASK_RCNN, unregister

pytestmark = pytest.mark.slow


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    import benchmarks.results_files

    monkeypatch.setattr(benchmarks.results_files, "RESULTS", str(tmp_path))
    return tmp_path


@pytest.fixture
def bench_datasets(tiny_shapes):
    overrides = [
        "DATASETS.COCO_FORMAT",
        f"['bench_train={tiny_shapes}/annotations/instances_train.json:{tiny_shapes}/train',"
        f"'bench_val={tiny_shapes}/annotations/instances_val.json:{tiny_shapes}/val']",
        "INPUT.MIN_SIZE_TEST",
        "128",
        "SOLVER.IMS_PER_BATCH",
        "2",
        "DATALOADER.NUM_WORKERS",
        "0",
        "MODEL.DEVICE",
        "cpu",
    ]
    yield overrides
    for name in ("bench_train", "bench_val"):
        unregister(name)


def _header(markdown_path):
    lines = [line for line in markdown_path.read_text().splitlines() if line.startswith("|")]
    return [cell.strip() for cell in lines[0].strip("|").split("|")]


def test_instance_comparison(results_dir, bench_datasets):
    from benchmarks import instance_torchvision

    instance_torchvision.main(
        [
            "--seeds",
            "0",
            "--iters",
            "8",
            "--name",
            "instance",
            *bench_datasets,
            "DATASETS.TRAIN",
            "('bench_train',)",
            "DATASETS.TEST",
            "('bench_val',)",
            "INPUT.MIN_SIZE_TRAIN",
            "(128,)",
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
            "0.0",
        ]
    )
    assert _header(results_dir / "instance.md") == [
        "model",
        "params (M)",
        "seeds",
        "mask AP",
        "box AP",
        "train it/s",
        "infer ms/img (b=1)",
        "infer ms/img (best b)",
        "peak train MiB",
        "detections/img",
        "best b",
    ]
    runs = json.loads((results_dir / "instance.json").read_text())["runs"]
    # a score threshold of 0 keeps every detection up to the config's limit on each image
    assert [run["detections_per_image"] for run in runs] == [50.0, 50.0]
    assert {run["system"] for run in runs} == set(instance_torchvision.SYSTEMS)
    for run in runs:
        assert all(
            math.isfinite(run[key])
            for key in (
                "mask_AP",
                "box_AP",
                "train_iters_per_s",
                "inference_ms_batch1",
                "peak_train_memory_MiB",
            )
        )
        assert run["best_batch_size"] in instance_torchvision.BATCH_SIZES
        stages = run["stage_ms_batch1"]
        outer = [stages[name] for name in ("backbone", "RPN", "RoI heads")]
        assert all(ms > 0 for ms in outer), run["system"]
        assert 0 < stages["RoIAlign (in RoI heads)"] < stages["RoI heads"]
        rest = stages["rest (normalise, pad, paste masks)"]
        assert rest > 0 and sum(outer) + rest == pytest.approx(stages["total"])
    # the stage table: one row per stage, each system's ms and their ratio
    markdown = (results_dir / "instance.md").read_text()
    stage_rows = markdown.split("Inference at batch 1 by stage")[1].splitlines()
    total_row = next(row for row in stage_rows if row.startswith("| total"))
    ours, theirs = (
        next(run["stage_ms_batch1"]["total"] for run in runs if run["system"] == system)
        for system in instance_torchvision.SYSTEMS
    )
    cells = [cell.strip() for cell in total_row.strip("|").split("|")]
    assert cells == ["total", f"{ours:.1f}", f"{theirs:.1f}", f"{ours / theirs:.2f}"]


def test_semantic_comparison(results_dir, bench_datasets):
    from benchmarks import semantic_unet

    semantic_unet.main(
        [
            "--seeds",
            "0",
            "--iters",
            "2",
            "--name",
            "semantic",
            *bench_datasets,
            "DATASETS.TRAIN",
            "('bench_train_sem_seg',)",
            "DATASETS.TEST",
            "('bench_val_sem_seg',)",
            "MODEL.UNET.DEPTH",
            "3",
        ]
    )
    assert _header(results_dir / "semantic.md") == [
        "model",
        "params (M)",
        "seeds",
        "mIoU",
        "train img/s",
        "inference img/s (b=1)",
        "peak train MiB",
    ]
    runs = json.loads((results_dir / "semantic.json").read_text())["runs"]
    assert {run["system"] for run in runs} == set(semantic_unet.SYSTEMS)
    assert all(math.isfinite(run["mIoU"]) and 0 <= run["mIoU"] <= 100 for run in runs)


def test_test_time_augmentation_scores_one_model_both_ways(results_dir, bench_datasets, tmp_path):
    import seg_d2
    from seg_d2.engine import Trainer

    from detectron2.checkpoint import DetectionCheckpointer

    from benchmarks import test_time_augmentation

    opts = [
        *bench_datasets,
        "DATASETS.TEST",
        "('bench_val',)",
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
        "0.0",
        "TEST.AUG.MIN_SIZES",
        "(112, 128)",
    ]
    model = Trainer.build_model(seg_d2.setup_config("configs/shapes/mask_rcnn_R18_FPN.yaml", opts))
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("untrained")
    test_time_augmentation.main(
        [
            "--config-file",
            "configs/shapes/mask_rcnn_R18_FPN.yaml",
            "--name",
            "tta",
            *opts,
            "MODEL.WEIGHTS",
            str(tmp_path / "untrained.pth"),
        ]
    )
    assert _header(results_dir / "tta.md") == ["", "without TTA", "with TTA", "difference"]
    data = json.loads((results_dir / "tta.json").read_text())
    assert data["test_aug"] == {"min_sizes": [112, 128], "max_size": 512, "flip": True}
    plain, augmented = data["runs"]["plain"], data["runs"]["tta"]
    assert (
        set(plain["metrics"])
        == set(augmented["metrics"])
        == {
            "segm/AP",
            "segm/AP50",
            "segm/AP75",
            "bbox/AP",
        }
    )
    for run in (plain, augmented):
        assert run["ms_per_image"] > 0
        assert all(math.isfinite(value) for value in run["metrics"].values())


def test_large_image_runs_whole_images_up_to_the_limit_and_windows_for_all(results_dir):
    from benchmarks import large_image

    large_image.main(
        [
            "--config-file",
            "configs/shapes/unet.yaml",
            "--sizes",
            "96",
            "160",
            "--whole-up-to",
            "96",
            "--window",
            "64",
            "MODEL.DEVICE",
            "cpu",
            "MODEL.UNET.BASE_CHANNELS",
            "4",
        ]
    )
    assert _header(results_dir / "large_image.md") == ["image", "inference", "peak MiB", "seconds"]
    runs = json.loads((results_dir / "large_image.json").read_text())["runs"]
    assert [(run["side"], run["window"]) for run in runs] == [(96, 0), (96, 64), (160, 64)]
    assert all(math.isfinite(run["peak_MiB"]) and run["seconds"] > 0 for run in runs)


def test_export_speed_compares_three_runtimes_on_the_same_model(results_dir, bench_datasets):
    from benchmarks import export_speed

    export_speed.main(
        [
            "--config-file",
            "configs/shapes/unet.yaml",
            "--name",
            "export",
            "--images",
            "2",
            "--repeats",
            "1",
            *bench_datasets,
            "DATASETS.TEST",
            "('bench_val_sem_seg',)",
            "MODEL.UNET.BASE_CHANNELS",
            "4",
            "MODEL.WEIGHTS",
            "",
        ]
    )
    assert _header(results_dir / "export.md") == [
        "runtime",
        "ms/image (median)",
        "images/s",
        "speed-up vs eager",
        "largest difference",
    ]
    runs = json.loads((results_dir / "export.json").read_text())["runs"]
    traced, batched = runs[:3], runs[3]
    assert [run["runtime"] for run in traced] == ["eager (PyTorch)", "TorchScript", "ONNX Runtime"]
    assert traced[0]["largest_difference"] == 0.0
    assert all(run["largest_difference"] < 1e-3 and run["ms_per_image"] > 0 for run in traced)
    by_batch = {int(b): ms for b, ms in batched["ms_per_image_by_batch"].items()}
    assert sorted(by_batch) == [1, 2, 4, 8]
    assert batched["ms_per_image"] == min(by_batch.values())
    assert batched["runtime"].endswith(f"batch {min(by_batch, key=by_batch.get)}")


def test_evaluation_comparison_agrees_with_pycocotools(results_dir):
    from benchmarks import coco_evaluation

    coco_evaluation.main(
        ["--images", "30", "--detections", "5", "--repeats", "1", "--name", "evaluation"]
    )
    assert _header(results_dir / "evaluation.md") == [
        "IoU type",
        "evaluator",
        "repeats",
        "AP",
        "median s",
    ]
    data = json.loads((results_dir / "evaluation.json").read_text())
    assert data["max_stat_difference"] <= coco_evaluation.AP_TOLERANCE
    assert all(0 < run["AP"] <= 100 for run in data["runs"])


def test_data_loading_and_results_page(results_dir, bench_datasets):
    import benchmarks.__main__ as suite
    from benchmarks import data_loading

    markdown = data_loading.main(
        [
            "--batches",
            "2",
            "--repeats",
            "1",
            "--workers",
            "0",
            "1",
            "--tasks",
            "instance",
            "--name",
            "loading",
            *bench_datasets,
            "DATASETS.TRAIN",
            "('bench_train',)",
        ]
    )
    assert _header(results_dir / "loading.md") == ["loader", "repeats", "images/s (median)"]
    runs = json.loads((results_dir / "loading.json").read_text())["runs"]
    assert [run["workers"] for run in runs] == [0, 1] and all(
        run["images_per_s"] > 0 for run in runs
    )

    page = suite.write_page([("data_loading", markdown, 1.0)], quick=True)
    text = open(page).read()
    assert "## data_loading" in text and "images/s (median)" in text


def test_record_run_reads_training_time_from_detectron2s_log(tmp_path):
    from benchmarks.record_run import record

    output = tmp_path / "run"
    output.mkdir()
    (output / "results.json").write_text('{"segm": {"AP": 41.5}}')
    cfg = seg_d2.load_config(MASK_RCNN, ["SEED", "5", "OUTPUT_DIR", "elsewhere"])
    del cfg.MODEL.ROI_MASK_HEAD["DICE_LOSS_WEIGHT"]  # as if the key were added after the run
    (output / "config.yaml").write_text(cfg.dump())
    (output / "log.txt").write_text(  # a folder trained in twice: the last run counts
        "[d2.engine.hooks]: Overall training speed: 98 iterations in 0:02:05 (1.2755 s / it)\n"
        "[d2.engine.hooks]: Overall training speed: 898 iterations in 1:02:05 (4.1481 s / it)\n"
    )
    command = f"python tools/train_net.py --config-file {MASK_RCNN} SEED 5 OUTPUT_DIR elsewhere"
    command += "  # the seed's run"  # a note in prose after a recorded command
    target = record(
        str(output), str(tmp_path / "recorded"), command
    )  # absolute: not under results/
    run = json.loads(open(os.path.join(target, "run.json")).read())
    assert (run["training_seconds"], run["seconds_per_iteration"]) == (3725, 4.1481)
    assert run["command"] == command and run["commit"]
    assert sorted(os.listdir(target)) == ["config_diff.yaml", "results.json", "run.json"]
    difference = yaml.safe_load(open(os.path.join(target, "config_diff.yaml")).read())
    assert difference == {
        "config_file": MASK_RCNN,
        "config_commit": run["commit"],
        "changed": {"OUTPUT_DIR": "elsewhere", "SEED": 5},
        "not_in_run": ["MODEL.ROI_MASK_HEAD.DICE_LOSS_WEIGHT"],
    }
    assert json.loads(open(os.path.join(target, "results.json")).read()) == {"segm": {"AP": 41.5}}


def test_record_run_of_an_evaluation_alone_has_no_training_time(tmp_path):
    from benchmarks.record_run import record

    output = tmp_path / "posthoc"
    output.mkdir()
    (output / "results.json").write_text('{"panoptic_seg": {"PQ": 70.0}}')
    target = record(str(output), str(tmp_path / "recorded"), "python tools/combine_panoptic.py")
    run = json.loads(open(os.path.join(target, "run.json")).read())
    assert run["training_seconds"] is None and run["seconds_per_iteration"] is None
    assert sorted(os.listdir(target)) == ["results.json", "run.json"]


def test_seed_runs_summarize_each_metric_over_the_seeds():
    from benchmarks.seed_runs import metric, summarize, table

    runs = [
        {"seed": 0, "metrics": {"segm/AP": 50.04, "bbox/AP": 40.0}, "wall_seconds": 600},
        {"seed": 1, "metrics": {"segm/AP": 56.0, "bbox/AP": 44.0}, "wall_seconds": 660},
        {"seed": 2, "metrics": {"segm/AP": 53.0, "bbox/AP": 39.0}, "wall_seconds": 630},
    ]
    for run, training_seconds in zip(runs, (540, 570, None)):  # the last only evaluated
        run["training_seconds"] = training_seconds
    summary = summarize(runs, ["segm/AP", "bbox/AP"])
    assert summary["segm/AP"] == {"mean": pytest.approx(53.013333), "min": 50.04, "max": 56.0}
    assert summary["bbox/AP"] == {"mean": 41.0, "min": 39.0, "max": 44.0}
    lines = table(runs, summary, ["segm/AP", "bbox/AP"]).splitlines()
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines]
    assert cells[0] == ["run", "segm/AP", "bbox/AP", "training min", "wall min"]
    assert cells[2:5] == [
        ["seed 0", "50.0", "40.0", "9.0", "10.0"],
        ["seed 1", "56.0", "44.0", "9.5", "11.0"],
        ["seed 2", "53.0", "39.0", "", "10.5"],
    ]
    assert cells[-1] == ["range", "50.0-56.0", "39.0-44.0", "", ""]
    assert metric({"sem_seg": {"mIoU": 86.5}}, "sem_seg/mIoU") == 86.5


def test_seed_runs_train_the_config_or_fill_in_the_command_per_seed():
    from benchmarks.seed_runs import seed_command

    assert seed_command(2, "out/s2", "c.yaml", ["SOLVER.MAX_ITER", "9"]) == [
        "python",
        "tools/train_net.py",
        "--config-file",
        "c.yaml",
        "SEED",
        "2",
        "OUTPUT_DIR",
        "out/s2",
        "SOLVER.MAX_ITER",
        "9",
    ]
    template = "python tools/combine_panoptic.py --w 'a b/m{seed}.pth' --output-dir {output_dir}"
    assert seed_command(1, "out/s1", template=template) == [
        "python",
        "tools/combine_panoptic.py",
        "--w",
        "a b/m1.pth",
        "--output-dir",
        "out/s1",
    ]


def test_nuclei_comparison_reads_the_data_from_the_folder_given(results_dir, tmp_path):
    """`python -m benchmarks run --nuclei DIR` compares on the README's nuclei converted
    into DIR; here a synthetic dataset in their layout, at a tiny schedule."""
    from seg_d2.data.convert.__main__ import main as convert

    import numpy as np
    from test_own_data import _nuclei_like

    from benchmarks import __main__ as suite
    from benchmarks import crowded_step, instance_torchvision, time_to_accuracy

    folder = tmp_path / "nuclei"
    _nuclei_like(folder / "stage1_train", np.random.default_rng(0))
    convert(["mask-folders", str(folder / "stage1_train"), "--output", str(folder / "nuclei.json")])
    convert(["split", str(folder / "nuclei.json"), "--val-fraction", "0.25"])
    arguments = ["--name", "instance_nuclei", *suite.nuclei_arguments(str(folder))]
    tiny = ["SOLVER.IMS_PER_BATCH", "2", "DATALOADER.NUM_WORKERS", "0", "MODEL.DEVICE", "cpu"]
    # An untrained model keeps the config's 400 detections per image: slow to time.
    few_detections = ["TEST.DETECTIONS_PER_IMAGE", "20"]
    from detectron2.data import DatasetCatalog

    for name in {"nuclei_train", "nuclei_val"} & set(DatasetCatalog.list()):
        unregister(name)
    try:
        instance_torchvision.main(
            [
                "--seeds",
                "0",
                "--iters",
                "4",
                *arguments,
                *tiny,
                *few_detections,
                "INPUT.MIN_SIZE_TRAIN",
                "(64,)",
                "INPUT.MIN_SIZE_TEST",
                "64",
            ]
        )
        crowded_step.main(["--nuclei", str(folder), "--steps", "2", "--repeats", "1", *tiny])
        time_to_accuracy.main(
            [
                *("--nuclei", str(folder), "--seeds", "0", "--torchvision-iters", "4"),
                *("--evaluations", "2", *tiny, *few_detections),
            ]
        )
    finally:
        for name in ("nuclei_train", "nuclei_val"):
            unregister(name)
    markdown = (results_dir / "instance_nuclei.md").read_text()
    assert markdown.startswith("# Mask R-CNN: seg_d2 vs torchvision on nuclei_val")
    overrides = json.loads((results_dir / "instance_nuclei.json").read_text())["overrides"]
    assert (
        f"nuclei_val={folder}/nuclei_val.json:{folder}/stage1_train"
        in overrides[overrides.index("DATASETS.COCO_FORMAT") + 1]
    )
    steps = json.loads((results_dir / "crowded_step.json").read_text())["runs"]
    seconds = {run["system"]: run["seconds_per_step"] for run in steps}
    assert set(seconds) == {"nuclei config, nuclei", "demo config, shapes"}
    ratio = seconds["nuclei config, nuclei"] / seconds["demo config, shapes"]
    ratio_row = next(
        line
        for line in (results_dir / "crowded_step.md").read_text().splitlines()
        if line.startswith("| ratio")
    )
    assert float(ratio_row.strip("| ").rsplit("|", 1)[1]) == pytest.approx(ratio, abs=0.005)
    curves = json.loads((results_dir / "time_to_accuracy_nuclei.json").read_text())["runs"]
    assert [(run["system"], [point["iteration"] for point in run["curve"]]) for run in curves] == [
        ("seg_d2 Mask R-CNN", [2, 4]),
        ("torchvision MaskRCNN", [2, 4]),
    ]


def test_the_full_nuclei_comparison_trains_two_seeds_of_half_the_nuclei_schedule():
    import yaml

    from benchmarks import __main__ as suite

    with open(
        os.path.join(
            os.path.dirname(os.path.dirname(__file__)), "configs/nuclei/mask_rcnn_R18_FPN.yaml"
        )
    ) as f:
        schedule = yaml.safe_load(f)["SOLVER"]["MAX_ITER"]
    full, quick = suite.nuclei_sizes(quick=False), suite.nuclei_sizes(quick=True)
    assert full == [
        "--seeds",
        "0",
        "1",
        "--iters",
        str(schedule // 2),
        "--name",
        "instance_nuclei_full",
    ]
    assert quick == ["--seeds", "0", "--iters", "60", "--name", "instance_nuclei"]


def _named(arguments, module):
    """The file name a comparison's arguments write to (--name, else the module's default)."""
    if "--name" in arguments:
        return arguments[arguments.index("--name") + 1]
    return module.main.__module__.rsplit(".", 1)[1]


def test_full_runs_write_beside_the_quick_files_not_over_them(results_dir):
    from benchmarks import __main__ as suite

    for name in ("instance", "semantic", "semantic_nearest"):
        module, quick, full = suite.COMPARISONS[name]
        assert _named(full, module) == _named(quick, module) + "_full", name
        assert full[full.index("--iters") + 1] != quick[quick.index("--iters") + 1], name
    # the U-Net against smp with each decoder layout, at both sizes
    for name, mode in (("semantic", "bilinear"), ("semantic_nearest", "nearest")):
        for arguments in suite.COMPARISONS[name][1:]:
            assert arguments[-2:] == ["MODEL.SEM_SEG_HEAD.UPSAMPLE_MODE", mode], name
    section = results_dir / "section.md"
    section.write_text("# title\n\nbody\n")
    assert os.path.basename(suite.write_page([("x", str(section), 60)], quick=False)) == (
        "full_length.md"
    )
    assert os.path.basename(suite.write_page([("x", str(section), 60)], quick=True)) == (
        "README.md"
    )


def test_multi_process_compares_one_and_two_processes_alternately(results_dir, monkeypatch):
    from benchmarks import multi_process

    asked = []

    def seconds_per_iteration(config_file, processes, iterations, opts):
        asked.append((config_file, processes, iterations, opts))
        return 0.2 * processes + 0.01 * len(asked)

    monkeypatch.setattr(multi_process, "seconds_per_iteration", seconds_per_iteration)
    multi_process.main(["--iterations", "3", "--repeats", "2", "KEY", "VALUE"])
    assert [processes for _, processes, _, _ in asked] == [1, 2, 2, 1]
    assert {(config, iterations, tuple(opts)) for config, _, iterations, opts in asked} == {
        ("configs/shapes/unet.yaml", 3, ("KEY", "VALUE"))
    }
    assert _header(results_dir / "multi_process.md") == ["training", "s / iteration", "speed-up"]
    data = json.loads((results_dir / "multi_process.json").read_text())
    systems = [run["system"] for run in data["runs"]]
    assert systems == ["1 process(es)", "2 process(es)", "2 process(es)", "1 process(es)"]
    # medians: one process 0.21 and 0.24, two processes 0.42 and 0.43
    assert data["speed_up"] == pytest.approx(0.225 / 0.425)


def test_multi_process_times_a_run_of_two_processes(tiny_shapes):
    from benchmarks import multi_process

    data = tiny_shapes
    seconds = multi_process.seconds_per_iteration(
        "configs/shapes/unet.yaml",
        2,
        3,
        [
            "DATASETS.COCO_FORMAT",
            f"['bench_train={data}/annotations/instances_train.json:{data}/train']",
            "DATASETS.TRAIN",
            "('bench_train_sem_seg',)",
            "DATASETS.TEST",
            "()",
            "SOLVER.IMS_PER_BATCH",
            "4",
            "MODEL.UNET.BASE_CHANNELS",
            "4",
            "DATALOADER.NUM_WORKERS",
            "0",
            "MODEL.DEVICE",
            "cpu",
        ],
    )
    assert seconds > 0


def test_architecture_comparison_trains_each_and_tabulates_them(results_dir, bench_datasets):
    from benchmarks import architectures

    systems = ["U-Net (seg_d2)", "DeepLabV3+ R18"]
    architectures.main(
        [
            *bench_datasets,
            "DATASETS.TRAIN",
            "('bench_train_sem_seg',)",
            "DATASETS.TEST",
            "('bench_val_sem_seg',)",
            "--iters",
            "2",
            "--only",
            *systems,
        ]
    )
    assert _header(results_dir / "architectures.md") == [
        "architecture",
        "params (M)",
        "mIoU",
        "train img/s",
        "inference img/s (b=1)",
        "peak train MiB",
    ]
    runs = json.loads((results_dir / "architectures.json").read_text())["runs"]
    assert [(r["system"], r["seed"]) for r in runs] == [
        (systems[0], 0),
        (systems[1], 0),
        (systems[1], 1),
        (systems[0], 1),
    ]
    assert all(math.isfinite(r["mIoU"]) and r["inference_images_per_s"] > 0 for r in runs)
    assert len({round(r["params_M"], 3) for r in runs}) == 2  # two different models


def test_architecture_comparison_on_the_nuclei_reads_them_from_the_folder_given(tmp_path):
    import seg_d2

    from benchmarks import architectures

    arguments = architectures.nuclei_arguments(str(tmp_path))
    assert arguments[:2] == ["--name", "architectures_nuclei"]
    for config in architectures.CONFIGS.values():
        cfg = seg_d2.load_config(config, arguments[2:])
        assert cfg.DATASETS.TRAIN == ("nuclei_train_sem_seg",)
        assert cfg.DATASETS.COCO_FORMAT[0] == (
            f"nuclei_train={tmp_path}/nuclei_train.json:{tmp_path}/stage1_train"
        )
        assert cfg.INPUT.EXTRA_AUGMENTATIONS[0] == "RandomCrop('absolute', (128, 128))"


def test_inference_profile_times_each_stage_within_the_total(tiny_val):
    import seg_d2
    from seg_d2.engine import Trainer

    import torch

    from benchmarks.inference import load_test_inputs
    from benchmarks.profile_inference import profile

    cfg = seg_d2.setup_config(
        "configs/shapes/mask_rcnn_R18_FPN.yaml",
        ["DATASETS.TEST", f"('{tiny_val}',)", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"],
    )
    model = Trainer.build_model(cfg).eval()
    inputs = load_test_inputs(cfg, tiny_val, 2)
    per_image, detections = profile(model, inputs)
    with torch.no_grad():
        expected = sum(len(model([image])[0]["instances"]) for image in inputs) / 2
    assert detections == expected > 0
    parts = ["backbone", "RPN", "RoI heads", "mask pasting (postprocess)"]
    assert all(per_image[part] > 0 for part in parts)
    assert sum(per_image[part] for part in parts) <= per_image["total"]
    assert 0 < per_image["RoIAlign (in RoI heads)"] < per_image["RoI heads"]


@pytest.mark.parametrize("speed_options", [False, True])
def test_every_compared_system_trains_with_the_configs_step_and_memory_format(
    tiny_val, speed_options
):
    """train_like_detectron2 gives any system the config's MODEL.CHANNELS_LAST and
    SOLVER.AMP.ENABLED (bfloat16 forwards on a CPU), as train_net.py does."""
    from seg_d2.engine import train_loop

    from benchmarks.training import train_like_detectron2

    seen = {}

    class Probe(torch.nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, batched_inputs):
            image = torch.stack([x["image"].float() for x in batched_inputs])
            seen["weights_channels_last"] = self.conv.weight.is_contiguous(
                memory_format=torch.channels_last
            )
            seen["dtype"] = self.conv(image).dtype
            return {"loss": self.conv(image).float().mean()}

    flag = str(speed_options)
    cfg = seg_d2.setup_config(
        "configs/shapes/unet.yaml",
        [
            "DATASETS.TRAIN",
            f"('{tiny_val}_sem_seg',)",
            "SOLVER.IMS_PER_BATCH",
            "2",
            "SOLVER.MAX_ITER",
            "2",
            "MODEL.CHANNELS_LAST",
            flag,
            "SOLVER.AMP.ENABLED",
            flag,
        ],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_loop, "cpu_computes_bfloat16", lambda: True)
        model, result = train_like_detectron2("probe", Probe, cfg, seed=0, warmup_steps=0)
    assert seen == {
        "weights_channels_last": speed_options,
        "dtype": torch.bfloat16 if speed_options else torch.float32,
    }
    assert not model.training and result["system"] == "probe"


def test_the_last_training_speed_row_is_the_demos_config():
    """The row the README calls the demo trains what `make demo` trains, but for the
    schedule (the benchmark times a few steps)."""
    from benchmarks import training_speed

    last = list(training_speed.VARIANTS)[-1]
    row = seg_d2.setup_config(training_speed.CONFIG, training_speed.VARIANTS[last])
    demo = seg_d2.setup_config("configs/shapes/mask_rcnn_R18_FPN.yaml", [])
    for cfg in (row, demo):
        cfg.defrost()
        cfg.SOLVER.MAX_ITER, cfg.SOLVER.STEPS, cfg.TEST.EVAL_PERIOD = 0, (), 0
    assert row.dump() == demo.dump()


def test_training_speed_times_each_setting_and_divides_by_float32(results_dir, bench_datasets):
    from benchmarks import training_speed

    training_speed.main(
        [
            "--rounds",
            "1",
            "--steps",
            "7",
            "--name",
            "speed",
            *bench_datasets,
            "DATASETS.TRAIN",
            "('bench_train',)",
            "INPUT.MIN_SIZE_TRAIN",
            "(128,)",
        ]
    )
    runs = json.loads((results_dir / "speed.json").read_text())["runs"]
    assert [run["system"] for run in runs] == list(training_speed.VARIANTS)
    lines = (results_dir / "speed.md").read_text().splitlines()
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines if "|" in line]
    assert rows[0] == ["training step", "ms / step (median)", "speed-up over float32"]
    assert [row[0] for row in rows[2:]] == list(training_speed.VARIANTS)
    for row, run in zip(rows[2:], runs):
        assert row[1] == f"{1000 / run['train_iters_per_s']:.0f}"
        assert row[2] == f"{run['train_iters_per_s'] / runs[0]['train_iters_per_s']:.2f}"
    assert rows[2][2] == "1.00"


def test_training_speed_adds_each_setting_to_the_config_given(
    results_dir, bench_datasets, monkeypatch
):
    """``--config`` is the base of every row (the nuclei's anchors in each), with the rows'
    settings on top and the step count given."""
    from benchmarks import training_speed

    configs = {}

    def record(system, build, cfg, seed):
        configs[system] = cfg
        return None, {"system": system, "seed": seed, "train_iters_per_s": 1.0}

    monkeypatch.setattr(training_speed, "train_like_detectron2", record)
    nuclei = "configs/nuclei/mask_rcnn_R18_FPN.yaml"
    splits = ["DATASETS.TRAIN", "('bench_train',)", "DATASETS.TEST", "('bench_val',)"]
    options = ["--rounds", "1", "--steps", "3", "--config", nuclei, "--name", "speed"]
    training_speed.main([*options, *bench_datasets, *splits])
    assert list(configs) == list(training_speed.VARIANTS)
    for variant, cfg in configs.items():
        assert cfg.MODEL.ANCHOR_GENERATOR.SIZES == [[8], [16], [32], [64], [128]], variant
        assert cfg.SOLVER.MAX_ITER == 3
    autocast = configs["+ bfloat16 autocast"]
    assert autocast.SOLVER.AMP.ENABLED and not configs["float32 (base config)"].SOLVER.AMP.ENABLED
    assert json.loads((results_dir / "speed.json").read_text())["config"] == nuclei


def test_transfer_splits_the_nuclei_by_imaging_kind_and_fine_tunes_from_the_source(
    results_dir, tmp_path, monkeypatch
):
    """Dark images are the source kind, bright ones the target, its first N (after one
    seeded shuffle) the fine-tuning set; each seed fine-tunes from the source run's
    weights and trains from scratch with the same iterations; the headline is the gain."""
    import numpy as np
    from PIL import Image

    from benchmarks import transfer_nuclei

    monkeypatch.setattr(transfer_nuclei, "WORK", str(tmp_path / "work"))
    images = tmp_path / "nuclei" / "stage1_train"
    dataset = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "nucleus"}]}
    for index, level in enumerate([10, 200, 30, 220, 240, 99, 100]):
        name = f"{index}/images/{index}.png"
        os.makedirs(images / str(index) / "images")
        Image.fromarray(np.full((8, 8, 3), level, np.uint8)).save(images / name)
        dataset["images"].append({"id": index + 1, "file_name": name, "height": 8, "width": 8})
        dataset["annotations"].append({"id": index + 1, "image_id": index + 1, "category_id": 1})
    (tmp_path / "nuclei" / "nuclei.json").write_text(json.dumps(dataset))
    trained = []

    def train(name, config, nuclei, *overrides):
        trained.append((name, config, overrides))
        return {"source": 20.0}.get(name, 30.0 if "finetuned" in name else 10.0)

    monkeypatch.setattr(transfer_nuclei, "train", train)
    markdown = transfer_nuclei.main(
        ["--nuclei", str(tmp_path / "nuclei"), "--target-images", "2", "--target-iters", "5"]
    )
    sizes = {
        name: len(json.loads((tmp_path / "work" / f"{name}.json").read_text())["images"])
        for name in ("source", "target_train", "target_test")
    }
    assert sizes == {"source": 3, "target_train": 2, "target_test": 2}  # 10, 30, 99 dark
    assert [name for name, _, _ in trained] == [
        "source",
        "finetuned_seed0",
        "from_scratch_seed0",
        "finetuned_seed1",
        "from_scratch_seed1",
    ]
    finetuned = trained[1][2]
    weights = finetuned[finetuned.index("MODEL.WEIGHTS") + 1]
    assert weights == os.path.join(str(tmp_path / "work"), "source", "model_final.pth")
    assert trained[1][1] == transfer_nuclei.FINETUNE_CONFIG
    assert trained[2][1] == transfer_nuclei.NUCLEI_CONFIG and "MODEL.WEIGHTS" not in trained[2][2]
    for _, _, overrides in trained[1:]:
        assert overrides[overrides.index("SOLVER.MAX_ITER") + 1] == "5"
        assert "INPUT.EXTRA_AUGMENTATIONS" not in overrides  # the target runs: as configured
    source = trained[0][2]
    augmentations = ast.literal_eval(source[source.index("INPUT.EXTRA_AUGMENTATIONS") + 1])
    assert augmentations == [
        "RandomCrop('absolute', (256, 256))",
        "RandomFlip(vertical=True, horizontal=False)",
        "RandomInvert(0.5)",
    ]
    with open(markdown) as f:
        text = f.read()
    assert "its augmentations and RandomInvert(0.5)." in text
    assert text.rstrip().endswith("headline: gain = 20.0; seeds = 2")


def test_scale_measures_each_step_at_the_smallest_size(results_dir, tmp_path):
    from benchmarks import scale

    scale.main(["--sizes", "1000", "--derive-sizes", "1000", "--work", str(tmp_path)])
    data = json.loads((results_dir / "scale_coco.json").read_text())
    assert [run["step"] for run in data["runs"]] == list(scale.STEPS)
    assert all(run["images"] == 1000 and run["seconds"] > 0 for run in data["runs"])
    baseline, seg_d2, validated_before, _ = data["runs"]
    for registration in (seg_d2, validated_before):
        assert registration["time_ratio"] == registration["seconds"] / baseline["seconds"]
        assert registration["memory_ratio"] == registration["peak_bytes"] / baseline["peak_bytes"]
    assert validated_before["seconds"] < seg_d2["seconds"]  # neither validated nor written again
    cache = tmp_path / "1000" / "cache"
    assert len(list(cache.glob("instances-*/pixels/panoptic.json"))) == 1
    assert len(list((cache / "validated").iterdir())) == 1
    assert (
        (results_dir / "scale_coco.md")
        .read_text()
        .rstrip()
        .endswith(
            f"headline: images = 1000; time ratio = {seg_d2['time_ratio']:.2f}; "
            f"memory ratio = {seg_d2['memory_ratio']:.2f}"
        )
    )


def test_cpu_deploy_runs_one_models_weights_through_each_backend(
    results_dir, bench_datasets, tmp_path, monkeypatch
):
    from detectron2.modeling import build_model

    from benchmarks import cpu_deploy

    cfg = seg_d2.setup_config(
        "configs/shapes/unet.yaml",
        [
            *bench_datasets,
            *("DATASETS.TRAIN", "('bench_train_sem_seg',)"),
            *("DATASETS.TEST", "('bench_val_sem_seg',)"),
            *("MODEL.UNET.BASE_CHANNELS", "4", "TEST.INT8.CALIBRATION_IMAGES", "2"),
        ],
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(cfg.dump())
    torch.manual_seed(0)
    torch.save({"model": build_model(cfg).state_dict()}, run / "model_final.pth")
    monkeypatch.setattr(cpu_deploy, "WORK", str(tmp_path / "work"))
    rows = cpu_deploy.measure(str(run), "sem_seg", "mIoU", images=2, repeats=1)
    assert [row["backend"] for row in rows] == [name for name, _, _ in cpu_deploy.BACKENDS]
    assert rows[0]["speedup"] == 1.0 and rows[0]["drop"] == 0.0
    assert all(row["images_per_second"] > 0 and math.isfinite(row["score"]) for row in rows)
    assert abs(rows[1]["drop"]) < 0.1  # float ONNX Runtime scores as eager PyTorch does


def test_cpu_deploy_heads_with_the_fastest_backend_the_predictor_offers(
    results_dir, tmp_path, monkeypatch
):
    from benchmarks import cpu_deploy

    # the two trials are the fastest: the headline is the int8 backend the Predictor offers
    names = [
        "eager PyTorch",
        *cpu_deploy.TRIALS[1:],
        *(name for name, _, _ in cpu_deploy.BACKENDS[1:]),
    ]
    speeds = dict(zip(names, [1.0, 3.0, 1.5, 2.5, 4.0]))
    scores = dict(zip(names, [40.0, 40.0, 40.0, 39.5, 30.0]))

    def measure(run, group, metric, images, repeats):
        return [
            {
                "backend": name,
                "images_per_second": speeds[name],
                "best_batch_size": 1,
                "score": scores[name],
                "speedup": speeds[name],
                "drop": 40.0 - scores[name],
            }
            for name in speeds
        ]

    trained = []
    monkeypatch.setattr(cpu_deploy, "measure", measure)
    monkeypatch.setattr(
        cpu_deploy, "trained_run", lambda folder, config, name: trained.append(config) or folder
    )
    markdown = cpu_deploy.main(
        ["--mask-rcnn-run", str(tmp_path / "a"), "--unet-run", str(tmp_path / "b")]
    )
    assert trained == ["configs/nuclei/mask_rcnn_R18_FPN.yaml", "configs/nuclei/unet.yaml"]
    with open(markdown) as f:
        text = f.read()
    assert text.rstrip().endswith(
        "U-Net: speedup = 2.50; mIoU drop = 0.5\n\nheadline: speedup = 2.50; mask AP drop = 0.5"
    )


def test_cpu_deploy_trains_a_run_folder_without_weights_only(tmp_path, monkeypatch):
    from benchmarks import cpu_deploy

    commands, recorded = [], []
    monkeypatch.setattr(
        cpu_deploy.subprocess, "run", lambda command, check, cwd: commands.append(command)
    )
    monkeypatch.setattr(cpu_deploy, "record", lambda *args: recorded.append(args))
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "model_final.pth").write_bytes(b"")
    assert cpu_deploy.trained_run(str(tmp_path / "done"), "c.yaml", "x") == str(tmp_path / "done")
    assert commands == []
    cpu_deploy.trained_run(str(tmp_path / "new"), "c.yaml", "cpu_deploy_new")
    assert commands[0][1:] == [
        *("tools/train_net.py", "--config-file", "c.yaml", "OUTPUT_DIR", str(tmp_path / "new"))
    ]
    assert recorded == [
        (
            str(tmp_path / "new"),
            "cpu_deploy_new",
            f"python tools/train_net.py --config-file c.yaml OUTPUT_DIR {tmp_path / 'new'}",
        )
    ]


def _curve(*points):
    return [
        {
            "iteration": 10 * (k + 1),
            "training_seconds": seconds,
            "evaluation_seconds": 2.0,
            "mask_AP": ap,
        }
        for k, (seconds, ap) in enumerate(points)
    ]


def test_time_to_accuracy_interpolates_between_the_evaluations_around_the_target():
    from benchmarks.time_to_accuracy import time_to_reach

    curve = _curve((10.0, 5.0), (20.0, 15.0), (30.0, 12.0), (40.0, 30.0))
    assert time_to_reach(curve, 10.0) == 15.0  # halfway from (10 s, 5) to (20 s, 15)
    assert time_to_reach(curve, 2.5) == 5.0  # from (0 s, AP 0)
    assert time_to_reach(curve, 15.0) == 20.0
    assert time_to_reach(curve, 21.0) == 35.0  # the dip to 12 is passed over
    assert time_to_reach(curve, 30.5) is None


def _trained_from(curves, monkeypatch, bench_datasets):
    """time_to_accuracy with ``curves[system, seed]`` for its trainings, on the tiny split;
    the list it fills with each training's (system, seed, period, iterations, warm-up)."""
    from benchmarks import time_to_accuracy

    trained = []

    def train(system, build, cfg, seed, evaluation):
        period, evaluate = evaluation
        trained.append((system, seed, period, cfg.SOLVER.MAX_ITER, cfg.SOLVER.WARMUP_ITERS))
        return None, {"system": system, "seed": seed, "curve": curves[system, seed]}

    monkeypatch.setattr(time_to_accuracy, "train_like_detectron2", train)
    monkeypatch.setattr(time_to_accuracy, "load_test_inputs", lambda cfg, name: [])
    splits = ["DATASETS.TRAIN", "('bench_train',)", "DATASETS.TEST", "('bench_val',)"]
    monkeypatch.setattr(
        time_to_accuracy, "nuclei_datasets", lambda folder: [*bench_datasets, *splits]
    )
    return trained


def test_time_to_accuracy_reuses_the_runs_an_earlier_file_made_alike(
    results_dir, bench_datasets, monkeypatch
):
    from benchmarks import results_files, time_to_accuracy

    torchvision, seg_d2_system = "torchvision MaskRCNN", "seg_d2 Mask R-CNN"
    earlier = [
        {"system": torchvision, "seed": 0, "curve": _curve((90.0, 9.0), (90.0, 9.0))},
        {"system": torchvision, "seed": 1, "curve": _curve((50.0, 20.0))},  # evaluated once
        {"system": seg_d2_system, "seed": 0, "curve": _curve((10.0, 4.0), (30.0, 12.0))},
    ]
    stamp = {**results_files.machine(), "commit": "abc1234"}
    (results_dir / "earlier.json").write_text(
        json.dumps({"machine": stamp, "overrides": [], "runs": earlier})
    )
    curves = {
        (torchvision, 1): _curve((40.0, 10.0), (80.0, 20.0)),
        (seg_d2_system, 1): _curve((20.0, 10.0), (40.0, 30.0)),
        (seg_d2_system, 0): _curve((10.0, 9.0), (20.0, 18.0)),
    }
    trained = _trained_from(curves, monkeypatch, bench_datasets)
    common = ["--nuclei", "DIR", "--torchvision-iters", "20", "--evaluations", "2"]
    markdown = time_to_accuracy.main([*common, "--seeds", "0", "1", "--reuse", "earlier"])
    assert [(system, seed) for system, seed, *_ in trained] == [
        (torchvision, 1),  # the earlier one was evaluated at other iterations
        (seg_d2_system, 1),
    ]
    data = json.loads((results_dir / "time_to_accuracy_nuclei.json").read_text())
    assert [(run["system"], run["seed"], run["commit"]) for run in data["runs"]][:2] == [
        (seg_d2_system, 0, "abc1234"),
        (torchvision, 0, "abc1234"),
    ]
    assert data["reused_from"] == "earlier"
    # seed 0: 9 reached at 22.5 s against 90 s; seed 1: 20 at 30 s against 80 s
    assert data["ratio"] == pytest.approx((22.5 + 30.0) / (90.0 + 80.0))
    assert (
        f"Taken from earlier.json, not trained again: {seg_d2_system} seed 0 (at abc1234), "
        f"{torchvision} seed 0 (at abc1234)." in open(markdown).read()
    )
    trained.clear()  # other overrides: seg_d2's runs are made again
    time_to_accuracy.main([*common, "--seeds", "0", "--reuse", "earlier", "SOLVER.MAX_ITER", "20"])
    assert [(system, seed) for system, seed, *_ in trained] == [(seg_d2_system, 0)]


def test_time_to_accuracy_refuses_to_reuse_runs_of_another_machine(
    results_dir, bench_datasets, monkeypatch
):
    """Training times of another CPU are not set beside this one's: the file and both
    machines are named, and nothing trains."""
    from benchmarks import results_files, time_to_accuracy

    here = results_files.machine()
    stamp = {**here, "cpu": "Another CPU (family 1, model 2)"}
    run = {"system": "torchvision MaskRCNN", "seed": 0, "curve": _curve((10.0, 1.0), (20.0, 2.0))}
    (results_dir / "elsewhere.json").write_text(
        json.dumps({"machine": stamp, "overrides": [], "runs": [run]})
    )
    trained = _trained_from({}, monkeypatch, bench_datasets)
    loaded = []
    monkeypatch.setattr(time_to_accuracy, "load_test_inputs", lambda cfg, name: loaded.append(name))
    common = ["--nuclei", "DIR", "--torchvision-iters", "20", "--evaluations", "2"]
    with pytest.raises(SystemExit) as refused:
        time_to_accuracy.main([*common, "--seeds", "0", "--reuse", "elsewhere"])
    message = str(refused.value)
    assert "--reuse elsewhere: elsewhere.json was measured on another machine" in message
    assert f"cpu: Another CPU (family 1, model 2) there, {here['cpu']} here" in message
    assert trained == [] and loaded == []  # refused before the test images load
    assert not (results_dir / "time_to_accuracy_nuclei.json").exists()


def test_time_to_accuracy_targets_torchvisions_final_ap_of_the_same_seed(
    results_dir, bench_datasets, monkeypatch
):
    from benchmarks import time_to_accuracy

    curves = {
        ("torchvision MaskRCNN", 0): _curve((100.0, 20.0), (200.0, 30.0)),
        ("torchvision MaskRCNN", 1): _curve((100.0, 30.0), (200.0, 34.0)),
        ("seg_d2 Mask R-CNN", 0): _curve((100.0, 30.0), (200.0, 36.0)),  # 30 at 100 s
        ("seg_d2 Mask R-CNN", 1): _curve((100.0, 24.0), (200.0, 44.0)),  # 34 at 150 s
    }
    trained = _trained_from(curves, monkeypatch, bench_datasets)
    markdown = time_to_accuracy.main(
        ["--nuclei", "DIR", "--torchvision-iters", "400", "SOLVER.MAX_ITER", "300"]
    )
    assert trained == [
        ("seg_d2 Mask R-CNN", 0, 30, 300, 100),
        ("torchvision MaskRCNN", 0, 40, 400, 100),
        ("torchvision MaskRCNN", 1, 40, 400, 100),
        ("seg_d2 Mask R-CNN", 1, 30, 300, 100),
    ]
    data = json.loads(
        markdown.replace(".md", ".json") and open(markdown.replace(".md", ".json")).read()
    )
    assert data["systems"]["seg_d2 Mask R-CNN"]["seconds_to_target"] == 125.0
    assert data["systems"]["torchvision MaskRCNN"]["seconds_to_target"] == 200.0
    with open(markdown) as f:
        text = f.read()
    assert text.rstrip().endswith(
        "headline: time-to-accuracy ratio = 0.62; seg_d2 final mask AP = 40.0; "
        "torchvision final mask AP = 32.0"
    )
    assert (results_dir / "time_to_accuracy_nuclei.png").stat().st_size > 0


def test_training_evaluates_every_period_and_after_the_last_step_outside_its_time(bench_datasets):
    from detectron2.modeling import build_model

    from benchmarks.training import train_like_detectron2

    cfg = seg_d2.setup_config(
        "configs/shapes/unet.yaml",
        [
            *bench_datasets,
            *("DATASETS.TRAIN", "('bench_train_sem_seg',)", "MODEL.UNET.BASE_CHANNELS", "4"),
            *("SOLVER.MAX_ITER", "7", "SOLVER.WARMUP_ITERS", "1", "INPUT.CROP.SIZE", "(64, 64)"),
        ],
    )
    modes = []

    def evaluate(model):
        modes.append(model.training)
        return {"mask_AP": float(len(modes))}

    model, result = train_like_detectron2("unet", build_model, cfg, 0, evaluation=(3, evaluate))
    curve = result["curve"]
    assert [point["iteration"] for point in curve] == [3, 6, 7]
    assert [point["mask_AP"] for point in curve] == [1.0, 2.0, 3.0]
    assert modes == [False] * 3
    seconds = [point["training_seconds"] for point in curve]
    assert 0 < seconds[0] < seconds[1] < seconds[2]
    assert all(point["evaluation_seconds"] > 0 for point in curve)


def test_training_with_model_ema_evaluates_and_returns_the_average(bench_datasets):
    from detectron2.modeling import build_model

    from benchmarks.training import train_like_detectron2

    cfg = seg_d2.setup_config(
        "configs/shapes/unet.yaml",
        [
            *bench_datasets,
            *("DATASETS.TRAIN", "('bench_train_sem_seg',)", "MODEL.UNET.BASE_CHANNELS", "4"),
            *("SOLVER.MAX_ITER", "4", "SOLVER.WARMUP_ITERS", "1", "INPUT.CROP.SIZE", "(64, 64)"),
            *("MODEL_EMA.ENABLED", "True", "MODEL_EMA.DECAY", "0.5"),
        ],
    )
    seen = []

    def evaluate(model):
        seen.append({name: value.clone() for name, value in model.state_dict().items()})
        return {"mask_AP": 0.0}

    model, _ = train_like_detectron2("unet", build_model, cfg, 0, evaluation=(2, evaluate))
    returned = model.state_dict()
    assert len(seen) == 2
    assert all(torch.equal(seen[-1][name], returned[name]) for name in returned)
    # the same training without the average ends with other weights
    cfg.defrost()
    cfg.MODEL_EMA.ENABLED = False
    plain, _ = train_like_detectron2("unet", build_model, cfg, 0)
    last = plain.state_dict()
    assert not all(torch.equal(last[name], returned[name]) for name in returned)
