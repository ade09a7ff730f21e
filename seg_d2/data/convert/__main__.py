"""seg-d2 convert LAYOUT ... --output instances.json   (or python -m seg_d2.data.convert)

Each layout writes one COCO instances JSON (validated before it is written); ``split``
divides one into ``_train`` and ``_val`` JSONs. See datasets/README.md. For example:

    seg-d2 convert mask-folders datasets/nuclei/stage1_train --output nuclei.json"""

import argparse
import logging
import os

from ...cli import exit_status, run_command
from . import (
    from_instance_pngs,
    from_labelme,
    from_mask_folders,
    from_semantic_pngs,
    from_via,
    split_coco_json,
)


def _parser():
    parser = argparse.ArgumentParser(
        prog="seg-d2 convert",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    layouts = parser.add_subparsers(dest="layout", required=True)

    def layout(name, help):
        sub = layouts.add_parser(name, help=help, description=help)
        sub.add_argument("--output", required=True, help="the COCO instances JSON to write")
        return sub

    sub = layout(
        "mask-folders",
        help="ROOT/<sample>/images/<image> + ROOT/<sample>/masks/*.png, one mask per instance",
    )
    sub.add_argument("root")
    sub.add_argument("--category", default="object", help="the class of every instance")
    sub = layout(
        "instance-png",
        help="one instance-id PNG per image (0 = background, k = instance k), named like it",
    )
    sub.add_argument("images")
    sub.add_argument("instances")
    classes = sub.add_mutually_exclusive_group()
    classes.add_argument("--category", default="object", help="the class of every instance")
    classes.add_argument(
        "--class-map", help='JSON {"<image path without extension>": {"<id>": "<class>"}}'
    )
    classes.add_argument(
        "--class-from-folder",
        action="store_true",
        help="the class is the image's first folder under IMAGES",
    )
    sub = layout(
        "semantic-png",
        help="semantic label PNGs named like the images (+ optional instance-id PNGs)",
    )
    sub.add_argument("images")
    sub.add_argument("labels")
    sub.add_argument(
        "--classes",
        required=True,
        help='"0=background,1=cell,..." or a file with one class name per line (line k = value k)',
    )
    sub.add_argument(
        "--things",
        default="",
        help="comma-separated classes that are instances; the rest are stuff",
    )
    sub.add_argument(
        "--instances",
        help="folder of instance-id PNGs that separate the things' instances "
        "(default: connected components)",
    )
    sub.add_argument("--ignore-value", type=int, default=255, help="the label of unlabelled pixels")
    sub = layout("via", help="a VGG Image Annotator (VIA 1/2) JSON export")
    sub.add_argument("via_json")
    sub.add_argument("images")
    sub.add_argument("--category", default="object", help="the class of every region")
    sub.add_argument("--class-attribute", help="the region attribute that holds the class name")
    sub = layout("labelme", help="a folder of labelme JSON files")
    sub.add_argument("folder")
    sub = layouts.add_parser(
        "split", help="a seeded random train/val split of a COCO JSON, by image"
    )
    sub.add_argument("json_file")
    sub.add_argument("--val-fraction", type=float, default=0.2)
    sub.add_argument("--seed", type=int, default=0)
    return parser


def _build(args):
    if args.layout == "mask-folders":
        return from_mask_folders(args.root, args.category), args.root
    if args.layout == "instance-png":
        return from_instance_pngs(
            args.images, args.instances, args.category, args.class_map, args.class_from_folder
        ), args.images
    if args.layout == "semantic-png":
        things = [name for name in args.things.split(",") if name]
        return from_semantic_pngs(
            args.images, args.labels, args.classes, args.instances, things, args.ignore_value
        ), args.images
    if args.layout == "via":
        return from_via(
            args.via_json, args.images, args.category, args.class_attribute
        ), args.images
    return from_labelme(args.folder), args.folder


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    if args.layout == "split":
        for path in split_coco_json(args.json_file, args.val_fraction, args.seed):
            print("wrote", path)
        return
    builder, image_root = _build(args)
    report = builder.write(args.output)
    print(report.summary())
    name = os.path.splitext(os.path.basename(args.output))[0]
    print(
        f"wrote {args.output}; register it with\n"
        "  DATASETS.COCO_FORMAT "
        f"\"['{name}={os.path.abspath(args.output)}:{os.path.abspath(image_root)}']\""
    )


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))


if __name__ == "__main__":
    run()
