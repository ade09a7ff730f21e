"""PNG plots of a training run's losses, learning rate and evaluated metrics.

    seg-d2 plot OUTPUT_DIR [--output OUTPUT_DIR/plots]

(tools/train_net.py writes them at the end of each training run too.)

``python tools/plot_metrics.py`` runs the same command.
"""

import argparse
import os

from seg_d2.cli import exit_status, run_command
from seg_d2.plots import plot_metrics


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output_dir", help="a training run's OUTPUT_DIR, holding metrics.json")
    parser.add_argument("--output", help="where the PNGs go (default OUTPUT_DIR/plots)")
    args = parser.parse_args(argv)
    paths = plot_metrics(
        os.path.join(args.output_dir, "metrics.json"),
        args.output or os.path.join(args.output_dir, "plots"),
    )
    for path in paths:
        print(path)


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))
