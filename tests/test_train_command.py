"""The train command (seg_d2/commands/train.py) in this process, as ``seg-d2 train`` runs
it in each of its processes: train a YAML and a Python config, then evaluate what was
trained; the run folder's results, plots, config and metadata."""

import json

from seg_d2.commands import train

import pytest
from detectron2.data import DatasetCatalog
from helpers import python_config_overrides, train_net_command, unregister

RUN_FILES = {"results.json", "metrics.json", "config.yaml", "metadata.json", "model_final.pth"}


def _argv(config, output_dir, data, *extra):
    """``extra``: flags first, then overrides."""
    if config.endswith(".py"):
        flags = [arg for arg in extra if arg.startswith("--")]
        return [
            "--config-file",
            config,
            *flags,
            *python_config_overrides(data, output_dir, size=64),
            "dataloader.train.dataset.names=tiny_train_sem_seg",
            "dataloader.test.dataset.names=tiny_val_sem_seg",
            "train.max_iter=2",
            *(arg for arg in extra if arg not in flags),
        ]
    command = train_net_command(
        config,
        output_dir,
        data,
        "SOLVER.MAX_ITER",
        "2",
        *extra,
        datasets=("tiny_train_sem_seg", "tiny_val_sem_seg"),
        size=64,
    )
    return command[2:]  # without the interpreter and the script


def _weights(config, path):
    return f"train.init_checkpoint={path}" if config.endswith(".py") else ["MODEL.WEIGHTS", path]


@pytest.fixture
def no_tiny_datasets(tiny_datasets_removed_after):
    """tiny_train and tiny_val registered by the command itself, from its config."""
    for name in ("tiny_train", "tiny_val"):
        if name in DatasetCatalog.list():
            unregister(name)


@pytest.mark.parametrize("config", ["configs/shapes/unet.yaml", "configs/shapes/unet.py"])
def test_train_command_trains_then_evaluates_what_it_trained(
    config, tiny_shapes, tmp_path, no_tiny_datasets
):
    parser = train.argument_parser(train.EXAMPLES)
    trained = tmp_path / "trained"
    results = train.main(parser.parse_args(_argv(config, trained, tiny_shapes)))
    assert set(results) == {"sem_seg"}
    assert RUN_FILES <= {path.name for path in trained.iterdir()}
    assert json.loads((trained / "results.json").read_text()) == json.loads(json.dumps(results))
    assert (trained / "plots" / "losses.png").is_file()
    assert json.loads((trained / "metadata.json").read_text())["dataset"] == "tiny_val_sem_seg"

    evaluated = tmp_path / "evaluated"
    weights = _weights(config, str(trained / "model_final.pth"))
    weights = [weights] if isinstance(weights, str) else weights
    argv = _argv(config, evaluated, tiny_shapes, "--eval-only", *weights)
    assert train.main(parser.parse_args(argv)) == results
    assert not (evaluated / "plots").exists()  # an evaluation draws no training curves
    assert json.loads((evaluated / "results.json").read_text()) == json.loads(json.dumps(results))


def test_train_command_without_a_config_file_names_one(capsys):
    with pytest.raises(SystemExit):
        train.run([])
    assert "--config-file is required, e.g. configs/" in capsys.readouterr().err


def test_train_command_resumes_where_its_run_stopped(tiny_shapes, tmp_path, no_tiny_datasets):
    import torch

    config, folder = "configs/shapes/unet.yaml", tmp_path / "run"
    parser = train.argument_parser(train.EXAMPLES)
    train.main(parser.parse_args(_argv(config, folder, tiny_shapes)))
    assert torch.load(folder / "model_final.pth", weights_only=True)["iteration"] == 1
    resumed = _argv(config, folder, tiny_shapes, "--resume", "SOLVER.MAX_ITER", "4")
    train.main(parser.parse_args(resumed))
    assert torch.load(folder / "model_final.pth", weights_only=True)["iteration"] == 3
    rows = [json.loads(line) for line in (folder / "metrics.json").read_text().splitlines()]
    trained = [row["iteration"] for row in rows if "total_loss" in row]
    assert trained == [1, 3]  # two iterations, then two more: not again from 0


def test_train_command_launches_its_main_in_every_process_of_the_job(monkeypatch):
    seen = []
    monkeypatch.setattr(
        train, "launch", lambda main, gpus, **job: seen.append((main, gpus, job)) or "done"
    )
    argv = ["--config-file", "c.yaml", "--num-gpus", "2", "--num-machines", "3"]
    argv += ["--machine-rank", "1", "--dist-url", "tcp://head:1234", "SEED", "7"]
    assert train.run(argv) == 0
    ((main, gpus, job),) = seen
    (args,) = job.pop("args")
    assert (main, gpus, job) == (
        train.main,
        2,
        {"num_machines": 3, "machine_rank": 1, "dist_url": "tcp://head:1234"},
    )
    assert (args.config_file, args.opts) == ("c.yaml", ["SEED", "7"])


@pytest.mark.parametrize("resume", [True, False])
def test_each_config_kind_trains_or_evaluates_resuming_as_asked(monkeypatch, resume):
    import argparse

    from seg_d2.config import get_cfg

    calls = []

    class Trainer:
        def __init__(self, cfg):
            calls.append(("trainer", cfg.OUTPUT_DIR))

        def resume_or_load(self, resume):
            calls.append(("resume_or_load", resume))

        def train(self):
            return "trained"

        build_model = staticmethod(lambda cfg: "model")
        test = staticmethod(lambda cfg, model: ("tested", model))

    class SafeCheckpointer:
        def __init__(self, model, save_dir):
            calls.append(("checkpointer", model, save_dir))

        def resume_or_load(self, path, resume):
            calls.append(("load", path, resume))

    monkeypatch.setattr(train, "Trainer", Trainer)
    monkeypatch.setattr(train, "SafeCheckpointer", SafeCheckpointer)
    monkeypatch.setattr(train, "train_lazy", lambda cfg, resume: ("lazy", cfg, resume))
    cfg = get_cfg()
    cfg.OUTPUT_DIR, cfg.MODEL.WEIGHTS = "run", "weights.pth"
    assert train.train_or_evaluate(cfg, argparse.Namespace(eval_only=False, resume=resume)) == (
        "trained"
    )
    assert calls == [("trainer", "run"), ("resume_or_load", resume)]
    calls.clear()
    evaluated = train.train_or_evaluate(cfg, argparse.Namespace(eval_only=True, resume=resume))
    assert evaluated == ("tested", "model")
    assert calls == [("checkpointer", "model", "run"), ("load", "weights.pth", resume)]
    monkeypatch.setattr(train, "is_lazy_config", lambda cfg: True)
    lazy = train.train_or_evaluate(cfg, argparse.Namespace(eval_only=False, resume=resume))
    assert lazy == ("lazy", cfg, resume)


def test_the_config_and_model_dumps_go_to_the_log_file_not_the_console(tmp_path, capsys):
    import logging

    logger = logging.getLogger("detectron2")
    before = list(logger.handlers)
    try:
        train._keep_dumps_off_the_console(str(tmp_path))
        logger.info("Running with full config:\nMODEL: ...")
        logger.info("Starting training")
    finally:
        for handler in set(logger.handlers) - set(before):
            handler.flush()
            logger.removeHandler(handler)
    console = capsys.readouterr()
    assert "Starting training" in console.out + console.err
    assert "Running with full config" not in console.out + console.err
    log = (tmp_path / "log.txt").read_text()
    assert "Running with full config:\nMODEL: ..." in log and "Starting training" in log
