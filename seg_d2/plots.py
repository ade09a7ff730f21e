"""Training curves from detectron2's ``OUTPUT_DIR/metrics.json``, as PNGs: the
losses, the learning rate, and every evaluated metric group against iteration."""

import json
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .errors import RunFileError  # noqa: E402

__all__ = ["plot_curves", "plot_metrics", "read_metrics"]


def read_metrics(metrics_json):
    """{name: [(iteration, value), ...]} from a metrics.json (one JSON object per line).
    A line that is not JSON (a run killed while writing) is an error naming it."""
    series = defaultdict(list)
    if not os.path.isfile(metrics_json):
        raise RunFileError(f"no {metrics_json}: give a training run's OUTPUT_DIR, which holds it")
    with open(metrics_json) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise RunFileError(f"{metrics_json}:{number}: not a JSON line ({e})") from None
            for name, value in record.items():
                if name != "iteration" and isinstance(value, (int, float)):
                    series[name].append((record["iteration"], value))
    return dict(series)


def plot_curves(path, title, curves, ylabel, logy=False, xlabel="iteration"):
    """A PNG at ``path`` of ``curves``: {name: [(x, y), ...]}, one line each."""
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    for name, points in sorted(curves.items()):
        iterations, values = zip(*points)
        axes.plot(iterations, values, marker="o" if len(points) < 20 else None, label=name)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    if logy:
        axes.set_yscale("log")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_metrics(metrics_json, output_dir):
    """Write losses.png, lr.png and <group>.png for each evaluated group (segm, bbox,
    sem_seg, panoptic_seg: summary metrics, not per class) into ``output_dir``; return
    the paths written."""
    series = read_metrics(metrics_json)
    os.makedirs(output_dir, exist_ok=True)
    paths = []
    losses = {n: p for n, p in series.items() if n.startswith("loss") or n == "total_loss"}
    if losses:
        paths.append(
            plot_curves(
                os.path.join(output_dir, "losses.png"), "training losses", losses, "loss", logy=True
            )
        )
    if "lr" in series:
        paths.append(
            plot_curves(
                os.path.join(output_dir, "lr.png"), "learning rate", {"lr": series["lr"]}, "lr"
            )
        )
    groups = defaultdict(dict)
    for name, points in series.items():
        group, _, metric = name.partition("/")
        if metric and "-" not in metric and group in ("bbox", "segm", "sem_seg", "panoptic_seg"):
            groups[group][metric] = points
    for group, curves in sorted(groups.items()):
        paths.append(
            plot_curves(
                os.path.join(output_dir, f"{group}.png"),
                f"{group} on the test set",
                curves,
                "value",
            )
        )
    return paths
