"""Sizes, anchors, detections and proposals proposed from a dataset's objects, as a config
fragment to merge into a Mask R-CNN config.

    seg-d2 suggest datasets/nuclei/nuclei_train.json [--config-file BASE] [--output FILE]

BASE (default the demo's config) gives the sizes to start from; the rule is in
seg_d2/data/size_statistics.py and docs/own_data.md.
"""

import argparse
import os

import seg_d2
from seg_d2.atomic_files import write_text_atomically
from seg_d2.cli import exit_status, run_command
from seg_d2.data.size_statistics import size_statistics, suggested_settings

import yaml
from tabulate import tabulate

DEMO_CONFIG = "configs/shapes/mask_rcnn_R18_FPN.yaml"


def as_yaml(settings):
    """``{"A.B": value}`` as nested YAML (the safe dumper writes tuples as lists)."""
    nested = {}
    for key, value in settings.items():
        *parents, leaf = key.split(".")
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return yaml.safe_dump(nested, default_flow_style=None, sort_keys=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("json_file", help="the training split's COCO instances JSON")
    parser.add_argument(
        "--config-file",
        default=os.path.join(os.path.dirname(seg_d2.__file__), "..", DEMO_CONFIG),
        help="the config whose sizes to start from (default: the demo's)",
    )
    parser.add_argument("--output", help="also write the fragment to this YAML file")
    args = parser.parse_args(argv)
    statistics = size_statistics(args.json_file)
    settings, small = suggested_settings(statistics, seg_d2.load_config(args.config_file))
    count, file_name = statistics.most_crowded
    print(
        tabulate(
            [
                ("images with instances", len(statistics.image_sizes)),
                ("instances", sum(map(len, statistics.object_sizes))),
                ("most crowded image", f"{count} instances: {file_name}"),
                ("small objects (10th percentile) at the test size", f"{small:.1f} px"),
            ],
            headers=["", args.json_file],
            tablefmt="github",
        )
    )
    fragment = as_yaml(settings)
    print(f"\nproposed (merge into your config):\n{fragment}")
    if args.output:
        write_text_atomically(args.output, fragment)
        print(f"wrote {args.output}")
    return settings


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))
