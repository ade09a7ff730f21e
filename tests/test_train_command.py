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
