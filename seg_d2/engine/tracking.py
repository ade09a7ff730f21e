"""Experiment tracking beyond TensorBoard: the rows detectron2's JSONWriter writes to
``metrics.json`` (losses, learning rate, timings, every evaluation's metrics, at their
iterations) go to MLflow or Weights & Biases as well, with the config, so a tracker shows
exactly what ``metrics.json`` holds. ``TRACKING.BACKEND`` chooses; both libraries are
optional and imported only when chosen.
"""

import json
import os
import re

from detectron2.utils.events import CommonMetricPrinter, JSONWriter, TensorboardXWriter

from ..errors import ConfigError

__all__ = ["BACKENDS", "TrackingWriter", "build_writers"]

BACKENDS = ("tensorboard", "mlflow", "wandb")
_INSTALL = {
    "mlflow": "pip install mlflow-skinny sqlalchemy alembic (or mlflow)",
    "wandb": "pip install wandb",
}


def _flat_config(cfg, prefix=""):
    """{"MODEL.WEIGHTS": value, ...} of a yacs config."""
    flat = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            flat.update(_flat_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _run_name(cfg):
    return cfg.TRACKING.RUN_NAME or os.path.basename(os.path.normpath(cfg.OUTPUT_DIR))


def _imported(backend):
    try:
        return __import__(backend)
    except ImportError as error:
        raise ConfigError(
            f"TRACKING.BACKEND {backend} needs the {backend} package ({error}): "
            f"{_INSTALL[backend]}, or set TRACKING.BACKEND tensorboard"
        ) from None


class MLflowTracker:
    """A run in an MLflow tracking store: ``TRACKING.MLFLOW_URI`` (a server's address), or
    by default a SQLite store in ``OUTPUT_DIR/mlflow.db`` with its artifacts beside it."""

    # MLflow's metric names allow these characters; others (in class names) become "_".
    _NOT_ALLOWED = re.compile(r"[^\w\-. /]")

    def __init__(self, cfg):
        mlflow = _imported("mlflow")
        output_dir = os.path.abspath(cfg.OUTPUT_DIR)
        uri = cfg.TRACKING.MLFLOW_URI or f"sqlite:///{os.path.join(output_dir, 'mlflow.db')}"
        self.client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        self._entities = mlflow.entities
        experiment = self.client.get_experiment_by_name(cfg.TRACKING.PROJECT)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            artifacts = None if cfg.TRACKING.MLFLOW_URI else os.path.join(output_dir, "mlruns")
            experiment_id = self.client.create_experiment(
                cfg.TRACKING.PROJECT, artifact_location=artifacts and f"file://{artifacts}"
            )
        self.run_id = self.client.create_run(experiment_id, run_name=_run_name(cfg)).info.run_id
        params = [self._entities.Param(k, str(v)) for k, v in _flat_config(cfg).items()]
        for start in range(0, len(params), 100):  # MLflow's limit per batch
            self.client.log_batch(self.run_id, params=params[start : start + 100])
        config_file = os.path.join(cfg.OUTPUT_DIR, "config.yaml")
        if os.path.isfile(config_file):
            self.client.log_artifact(self.run_id, config_file)

    def log_metrics(self, row, iteration):
        metrics = [
            self._entities.Metric(self._NOT_ALLOWED.sub("_", k), float(v), 0, iteration)
            for k, v in row.items()
        ]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])

    def finish(self):
        self.client.set_terminated(self.run_id)


class WandbTracker:
    """A Weights & Biases run in ``OUTPUT_DIR/wandb``, in ``TRACKING.WANDB_MODE``
    (``offline`` by default: ``wandb sync`` uploads it later; ``online`` needs a login)."""

    def __init__(self, cfg):
        wandb = _imported("wandb")
        self.run = wandb.init(
            project=cfg.TRACKING.PROJECT,
            name=_run_name(cfg),
            dir=cfg.OUTPUT_DIR,
            mode=cfg.TRACKING.WANDB_MODE,
            config=_flat_config(cfg),
        )

    def log_metrics(self, row, iteration):
        self.run.log(row, step=iteration)

    def finish(self):
        self.run.finish()


TRACKERS = {"mlflow": MLflowTracker, "wandb": WandbTracker}


class _RowsToTracker:
    """The file a JSONWriter writes its rows to, handing each row to a tracker instead:
    rows of one write go in iteration order (W&B takes steps in order only)."""

    def __init__(self, tracker):
        self.tracker = tracker
        self._rows = []

    def write(self, text):
        self._rows += [json.loads(line) for line in text.splitlines() if line.strip()]

    def flush(self):
        for row in sorted(self._rows, key=lambda row: row["iteration"]):
            iteration = row.pop("iteration")
            self.tracker.log_metrics(row, iteration)
        self._rows = []

    def close(self):
        self.flush()
        self.tracker.finish()


class TrackingWriter(JSONWriter):
    """detectron2's JSONWriter with a tracker for its file: the rows, and so the metrics
    and their iterations, are those of ``metrics.json`` by construction."""

    def __init__(self, tracker, window_size=20):
        super().__init__(os.devnull, window_size)
        self._file_handle.close()
        self._file_handle = _RowsToTracker(tracker)


def build_writers(cfg, max_iter):
    """detectron2's default writers (console, ``metrics.json``), then TensorBoard's or the
    chosen tracker's."""
    backend = cfg.TRACKING.BACKEND
    if backend not in BACKENDS:
        raise ConfigError(f"TRACKING.BACKEND must be one of {BACKENDS}, not {backend!r}")
    writers = [
        CommonMetricPrinter(max_iter),
        JSONWriter(os.path.join(cfg.OUTPUT_DIR, "metrics.json")),
    ]
    if backend == "tensorboard":
        return writers + [TensorboardXWriter(cfg.OUTPUT_DIR)]
    return writers + [TrackingWriter(TRACKERS[backend](cfg))]
