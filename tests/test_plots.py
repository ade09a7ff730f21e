"""The training plots seg_d2.plots draws from a run's metrics.json."""

import json
import os

from seg_d2.errors import RunFileError
from seg_d2.plots import plot_metrics

import pytest
from helpers import png_sizes


def test_plots_from_a_sample_metrics_file(tmp_path):
    lines = [
        {"iteration": i, "total_loss": 2.0 / (i + 1), "loss_mask": 1.0 / (i + 1), "lr": 0.01}
        for i in range(0, 40, 10)
    ]
    lines += [
        {"iteration": 19, "segm/AP": 10.0, "segm/AP-star": 3.0, "sem_seg/mIoU": 40.0},
        {"iteration": 39, "segm/AP": 20.0, "sem_seg/mIoU": 60.0},
    ]
    metrics = tmp_path / "metrics.json"
    metrics.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    paths = plot_metrics(metrics, tmp_path / "plots")
    assert sorted(os.path.basename(p) for p in paths) == [
        "losses.png",
        "lr.png",
        "segm.png",
        "sem_seg.png",
    ]
    assert png_sizes(paths) == [(600, 350)] * 4
    metrics.write_text(metrics.read_text() + '{"iteration": 4')
    with pytest.raises(RunFileError, match=r"metrics.json:7: not a JSON line"):
        plot_metrics(metrics, tmp_path / "plots")


@pytest.fixture
def drawn_figures(monkeypatch):
    """{title: figure} of every plot drawn, caught as plots.py closes it."""
    from seg_d2 import plots

    figures = {}
    close = plots.plt.close

    def catch(figure):
        figures[figure.axes[0].get_title()] = figure
        close(figure)

    monkeypatch.setattr(plots.plt, "close", catch)
    return figures


def _curves(axes):
    return {
        line.get_label(): (list(line.get_xdata()), list(line.get_ydata()), line.get_marker())
        for line in axes.get_lines()
    }


def test_each_plot_draws_its_series_against_iteration_with_its_labels(tmp_path, drawn_figures):
    lines = [
        {"iteration": i, "total_loss": 8.0 / (i + 1), "loss_box": 1.0, "lr": 0.01 * i}
        for i in range(25)
    ]
    lines += [
        {"iteration": 9, "bbox/AP": 1.0, "bbox/AP-cat": 5.0, "data_time": 0.1},
        {"iteration": 19, "bbox/AP": 4.0, "panoptic_seg/PQ": 50.0, "mystery/PQ": 2.0},
    ]
    metrics = tmp_path / "metrics.json"
    metrics.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    output = tmp_path / "plots"
    output.mkdir()  # an existing folder is reused
    written = plot_metrics(metrics, output)
    assert written == [str(output / name) for name in ("losses.png", "lr.png")] + [
        str(output / name) for name in ("bbox.png", "panoptic_seg.png")
    ]
    assert set(drawn_figures) == {
        "training losses",
        "learning rate",
        "bbox on the test set",
        "panoptic_seg on the test set",
    }
    iterations = list(range(25))
    losses = drawn_figures["training losses"].axes[0]
    assert (losses.get_ylabel(), losses.get_yscale()) == ("loss", "log")
    assert _curves(losses) == {  # 25 points: lines without markers
        "loss_box": (iterations, [1.0] * 25, "None"),
        "total_loss": (iterations, [8.0 / (i + 1) for i in iterations], "None"),
    }
    lr = drawn_figures["learning rate"].axes[0]
    assert (lr.get_ylabel(), lr.get_yscale()) == ("lr", "linear")
    assert _curves(lr) == {"lr": (iterations, [0.01 * i for i in iterations], "None")}
    bbox = drawn_figures["bbox on the test set"].axes[0]
    assert (bbox.get_ylabel(), bbox.get_yscale()) == ("value", "linear")
    assert _curves(bbox) == {"AP": ([9, 19], [1.0, 4.0], "o")}  # few points: marked
    assert _curves(drawn_figures["panoptic_seg on the test set"].axes[0]) == {
        "PQ": ([19], [50.0], "o")
    }
    for figure in drawn_figures.values():
        axes = figure.axes[0]
        assert axes.get_xlabel() == "iteration" and figure.dpi == 100
        assert [t.get_fontsize() for t in axes.get_legend().get_texts()] == [7] * len(
            axes.get_lines()
        )
        assert axes.xaxis.get_gridlines()[0].get_alpha() == 0.3


def test_a_curve_of_nineteen_points_is_marked_and_of_twenty_is_not(tmp_path, drawn_figures):
    metrics = tmp_path / "metrics.json"
    lines = [{"iteration": i, "lr": 1.0} for i in range(19)]
    lines += [{"iteration": i, "loss_a": 1.0} for i in range(20)]
    metrics.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    plot_metrics(metrics, tmp_path / "plots")
    assert _curves(drawn_figures["learning rate"].axes[0])["lr"][2] == "o"
    assert _curves(drawn_figures["training losses"].axes[0])["loss_a"][2] == "None"


def test_metrics_are_read_per_name_past_blank_lines_numbers_only(tmp_path):
    from seg_d2.plots import read_metrics

    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        '{"iteration": 1, "lr": 0.5, "note": "warm-up"}\n\n'
        '{"iteration": 2, "lr": 0.25, "segm/AP": 3}\n'
    )
    assert read_metrics(metrics) == {"lr": [(1, 0.5), (2, 0.25)], "segm/AP": [(2, 3)]}


def test_plot_command_draws_into_the_run_folder_or_where_it_is_told(tmp_path, capsys):
    from seg_d2.commands import plot_metrics as command

    lines = [{"iteration": i, "total_loss": 1.0, "lr": 0.01} for i in range(3)]
    (tmp_path / "metrics.json").write_text("\n".join(json.dumps(line) for line in lines))
    command.main([str(tmp_path)])
    assert capsys.readouterr().out.split() == [
        str(tmp_path / "plots" / name) for name in ("losses.png", "lr.png")
    ]
    command.main([str(tmp_path), "--output", str(tmp_path / "elsewhere")])
    assert sorted(os.listdir(tmp_path / "elsewhere")) == ["losses.png", "lr.png"]
    capsys.readouterr()
    with pytest.raises(SystemExit, match=r"error: no \S*no_run/metrics.json: give a training"):
        command.run([str(tmp_path / "no_run")])
