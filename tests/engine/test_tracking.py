"""Experiment tracking: MLflow and W&B get the rows of metrics.json, the same metrics at
the same iterations, and the config; TensorBoard stays the default."""

import glob
import json
import os
import struct
import sys

import seg_d2
from seg_d2.engine.tracking import TrackingWriter, build_writers
from seg_d2.errors import ConfigError

import pytest
from detectron2.utils.events import (
    CommonMetricPrinter,
    EventStorage,
    JSONWriter,
    TensorboardXWriter,
)
from helpers import MASK_RCNN, train_net


class _Recorder:
    def __init__(self):
        self.rows, self.finished = [], False

    def log_metrics(self, row, iteration):
        self.rows.append((iteration, row))

    def finish(self):
        self.finished = True


def _metrics_json(path):
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return {
        (row["iteration"], key): value
        for row in rows
        for key, value in row.items()
        if key != "iteration"
    }


def test_the_tracker_gets_the_rows_of_metrics_json_in_iteration_order(tmp_path):
    recorder = _Recorder()
    json_writer = JSONWriter(str(tmp_path / "metrics.json"))
    tracking = TrackingWriter(recorder)
    with EventStorage(0) as storage:
        for iteration in range(5):
            storage.iter = iteration
            storage.put_scalar("loss", 1.0 / (iteration + 1))
            if iteration == 1:
                storage.put_scalars(**{"segm/AP": 12.5}, smoothing_hint=False)
            if iteration in (2, 4):
                for writer in (json_writer, tracking):
                    writer.write()
    tracking.close()
    json_writer.close()
    iterations = [iteration for iteration, _ in recorder.rows]
    assert iterations == sorted(iterations) == [1, 2, 4]
    tracked = {(i, key): value for i, row in recorder.rows for key, value in row.items()}
    assert tracked == _metrics_json(tmp_path / "metrics.json")
    assert tracked[(1, "segm/AP")] == 12.5 and recorder.finished


def test_tensorboard_is_the_default_and_an_unknown_backend_is_named(tmp_path):
    cfg = seg_d2.get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    writers = build_writers(cfg, 10)
    assert [type(w) for w in writers] == [CommonMetricPrinter, JSONWriter, TensorboardXWriter]
    for writer in writers:
        writer.close()
    cfg.TRACKING.BACKEND = "neptune"
    with pytest.raises(ConfigError, match="TRACKING.BACKEND must be one of .*'neptune'"):
        build_writers(cfg, 10)


@pytest.mark.parametrize("backend", ["mlflow", "wandb"])
def test_a_backend_without_its_package_says_how_to_install_it(backend, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, backend, None)  # import then fails
    cfg = seg_d2.get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.TRACKING.BACKEND = backend
    with pytest.raises(ConfigError, match=f"TRACKING.BACKEND {backend} needs .*pip install"):
        build_writers(cfg, 10)


def _trained(backend, tiny_shapes, output_dir):
    train_net(
        MASK_RCNN,
        output_dir,
        tiny_shapes,
        "SOLVER.MAX_ITER", "4", "TEST.EVAL_PERIOD", "2", "TRACKING.BACKEND", backend,
    )  # fmt: skip
    metrics = _metrics_json(output_dir / "metrics.json")
    # the evaluations at iterations 1 and 4 (after the last step), the losses' row at 3
    assert {(1, "segm/AP"), (4, "segm/AP"), (3, "total_loss")} <= metrics.keys()
    with open(output_dir / "results.json") as f:
        results = json.load(f)
    assert metrics[(4, "segm/AP")] == pytest.approx(results["segm"]["AP"], nan_ok=True)
    return metrics


@pytest.mark.slow
def test_mlflow_records_the_metrics_of_metrics_json(tiny_shapes, tmp_path):
    """A real SQLite tracking store in OUTPUT_DIR."""
    from mlflow.tracking import MlflowClient

    metrics = _trained("mlflow", tiny_shapes, tmp_path)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("seg_d2").experiment_id])
    assert run.info.run_name == tmp_path.name and run.info.status == "FINISHED"
    tracked = {
        (m.step, key): m.value
        for key in run.data.metrics
        for m in client.get_metric_history(run.info.run_id, key)
    }
    assert tracked == pytest.approx(metrics, nan_ok=True)
    assert run.data.params["SOLVER.MAX_ITER"] == "4"
    assert os.listdir(tmp_path / "mlruns")  # the artifacts (config.yaml) in OUTPUT_DIR


def _wandb_records(path):
    """The protobuf records of a W&B run file: a LevelDB-style log of 32 KiB blocks, each
    record in chunks with a 7-byte header (checksum, length, FULL/FIRST/MIDDLE/LAST)."""
    from wandb.proto import wandb_internal_pb2

    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b":W&B"
    block, position, pending, records = 32768, 7, b"", []
    while position + 7 <= len(data):
        if block - position % block < 7:
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if kind == 0:
            break
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a FULL record, or the LAST chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


@pytest.mark.slow
def test_wandb_offline_records_the_metrics_of_metrics_json(tiny_shapes, tmp_path):
    metrics = _trained("wandb", tiny_shapes, tmp_path)
    (run_file,) = glob.glob(str(tmp_path / "wandb" / "offline-run-*" / "run-*.wandb"))
    tracked, config = {}, {}
    for record in _wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                if not key.startswith("_"):  # W&B's own _step, _runtime, _timestamp
                    tracked[(record.history.step.num, key)] = json.loads(item.value_json)
        elif kind in ("run", "config"):
            updates = (record.run.config if kind == "run" else record.config).update
            config.update({item.key: json.loads(item.value_json) for item in updates})
    assert tracked == pytest.approx(metrics, nan_ok=True)
    assert config["SOLVER.MAX_ITER"] == 4


def _tracked_config(tmp_path, name):
    cfg = seg_d2.get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path / name)
    os.makedirs(cfg.OUTPUT_DIR)
    with open(os.path.join(cfg.OUTPUT_DIR, "config.yaml"), "w") as f:
        f.write(cfg.dump())
    cfg.SOLVER.MAX_ITER = 4
    return cfg


def test_mlflow_gets_every_setting_the_metrics_and_the_config_file(tmp_path):
    """The tracker alone, in-process (the slow test trains through it)."""
    from seg_d2.engine.tracking import MLflowTracker, _flat_config

    from mlflow.tracking import MlflowClient

    cfg = _tracked_config(tmp_path, "run_a")
    tracker = MLflowTracker(cfg)
    tracker.log_metrics({"loss": 0.5, "segm/AP-disc(1)": 3.0}, 2)
    tracker.log_metrics({"loss": 0.25}, 5)
    tracker.finish()
    cfg.TRACKING.RUN_NAME = "second"
    MLflowTracker(cfg).finish()  # into the same experiment

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/run_a/mlflow.db")
    experiment = client.get_experiment_by_name("seg_d2")
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"run_a", "second"}
    run = runs["run_a"]
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(2, 0.5), (5, 0.25)]
    assert run.data.metrics["segm/AP-disc_1_"] == 3.0
    settings = _flat_config(cfg)
    assert len(settings) > 100  # more than one batch of MLflow's
    assert set(run.data.params) == set(settings)
    assert run.data.params["SOLVER.MAX_ITER"] == "4" and "MODEL.WEIGHTS" in settings
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert artifacts == ["config.yaml"]
    assert experiment.artifact_location == f"file://{tmp_path}/run_a/mlruns"


def test_wandb_offline_gets_the_metrics_at_their_iterations_and_the_settings(tmp_path):
    from seg_d2.engine.tracking import WandbTracker

    cfg = _tracked_config(tmp_path, "run_b")
    tracker = WandbTracker(cfg)
    tracker.log_metrics({"loss": 0.5}, 2)
    tracker.log_metrics({"loss": 0.25}, 5)
    tracker.finish()
    (run_file,) = glob.glob(str(tmp_path / "run_b" / "wandb" / "offline-run-*" / "run-*.wandb"))
    steps, config, names = [], {}, []
    for record in _wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            values = {
                item.key or "/".join(item.nested_key): json.loads(item.value_json)
                for item in record.history.item
            }
            if "loss" in values:  # W&B's own rows hold only _step, _runtime, ...
                steps.append((record.history.step.num, values["loss"]))
        elif kind in ("run", "config"):
            if kind == "run":
                names.append(record.run.display_name)
            updates = (record.run.config if kind == "run" else record.config).update
            config.update({item.key: json.loads(item.value_json) for item in updates})
    assert steps == [(2, 0.5), (5, 0.25)]
    assert config["SOLVER.MAX_ITER"] == 4 and names == ["run_b"]


def test_the_default_writers_write_into_the_run_folder(tmp_path):
    cfg = seg_d2.get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    printer, json_writer, tensorboard = build_writers(cfg, 37)
    assert printer._max_iter == 37
    assert json_writer._file_handle.name == str(tmp_path / "metrics.json")
    assert tensorboard._writer.get_logdir() == str(tmp_path)
    for writer in (printer, json_writer, tensorboard):
        writer.close()
