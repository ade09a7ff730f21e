"""Convert a weights file of another library into detectron2's names, saying what it
recognised: torchvision's or timm's ImageNet ResNets (18/34/50/101) into detectron2's
ResNet, torchvision's maskrcnn_resnet50_fpn / fasterrcnn_resnet50_fpn (v1) into the
detectron2 model of configs/coco/mask_rcnn_R50_FPN_torchvision.yaml.

    seg-d2 convert-weights resnet50-0676ba61.pth R-50-torchvision.pth
    seg-d2 train --config-file CONFIG MODEL.WEIGHTS R-50-torchvision.pth

MODEL.WEIGHTS also takes the downloaded file itself (converted as it loads); converting
once keeps the renamed file to share. The output is read without running code, as every
weights file seg_d2 reads.
"""

import argparse

from seg_d2.cli import exit_status, run_command
from seg_d2.engine.checkpoint import CheckpointError, read_weights_file
from seg_d2.engine.weight_formats import DETECTRON2_RESNET_KEYS, convert_foreign_weights

import torch


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help="the downloaded .pth / .safetensors file")
    parser.add_argument("output", help="the detectron2 .pth file to write")
    args = parser.parse_args(argv)
    loaded = read_weights_file(args.source)
    converted, kind = convert_foreign_weights(loaded.get("model", loaded), DETECTRON2_RESNET_KEYS)
    if kind is None:
        raise CheckpointError(
            f"{args.source}: not a torchvision, timm or smp weights file seg_d2 recognises "
            "(a detectron2 file needs no conversion: give it as MODEL.WEIGHTS)"
        )
    torch.save(converted, args.output)
    count = len(converted["model"])
    print(f"{args.source}: recognised {kind}; wrote {count} tensors to {args.output}")
    return args.output, kind


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))
