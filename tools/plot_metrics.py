#!/usr/bin/env python
"""PNG plots of a training run's losses, learning rate and evaluated metrics.

    python tools/plot_metrics.py OUTPUT_DIR [--output OUTPUT_DIR/plots]

(tools/train_net.py writes them at the end of each training run too.)
"""

import argparse
import os

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


if __name__ == "__main__":
    main()
