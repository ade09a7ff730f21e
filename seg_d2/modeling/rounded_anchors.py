"""detectron2's anchors rounded to whole pixels, as torchvision's ``AnchorGenerator``
makes them: with torchvision's RPN weights (configs/coco/mask_rcnn_R50_FPN_torchvision.yaml)
the same deltas then decode to the same proposals. Unrounded, a 32-px anchor of aspect
0.5 is 45.25 x 22.63 px instead of 46 x 22, and proposals move by a few pixels."""

from detectron2.modeling.anchor_generator import ANCHOR_GENERATOR_REGISTRY, DefaultAnchorGenerator

__all__ = ["RoundedAnchorGenerator"]


@ANCHOR_GENERATOR_REGISTRY.register()
class RoundedAnchorGenerator(DefaultAnchorGenerator):
    def generate_cell_anchors(self, sizes=(32, 64, 128, 256, 512), aspect_ratios=(0.5, 1, 2)):
        return super().generate_cell_anchors(sizes, aspect_ratios).round()
