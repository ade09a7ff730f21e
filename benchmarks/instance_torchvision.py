"""seg_d2's Mask R-CNN against torchvision's, side by side in one run.

    python -m benchmarks.instance_torchvision [--config-file CONFIG] [--seeds 0 1 2]
        [--iters 1000] [KEY VALUE ...]

torchvision's ``MaskRCNN`` is built to match a seg_d2 instance config (by default the
demo's): the same ResNet depth (BatchNorm, from scratch), FPN width and levels,
anchors, RPN and RoI sampling sizes, box head and number of classes; the mask heads
differ by design (seg_d2's UpsampleMaskHead vs torchvision's deconvolution head).
Both are trained by the config's step (bfloat16 autocast on a CPU when
SOLVER.AMP.ENABLED) and memory format on the same loader (so, per seed, the same
augmented batches at the same sizes), optimizer, gradient clipping and LR schedule,
alternating which runs first, and evaluated by train_net's evaluator (COCOEvaluator) on
the config's test dataset. torchvision's model gets detectron2's batches through a
thin adapter (BGR 0..255 -> RGB 0..1, classes +1), whose cost is counted in its
timings. Another dataset, e.g. the nuclei of the README from where you keep them:

    python -m benchmarks.instance_torchvision --config-file configs/nuclei/mask_rcnn_R18_FPN.yaml \
        DATASETS.COCO_FORMAT "['nuclei_train=DIR/nuclei_train.json:DIR/stage1_train', \
                              'nuclei_val=DIR/nuclei_val.json:DIR/stage1_train']"
"""

import argparse
import tempfile
import time

import seg_d2
from seg_d2.engine import Trainer

import numpy as np
import torch
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances
from tabulate import tabulate
from torch import nn
from torchvision.models import resnet
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

from .comparison import compare_on_test_split, median, spread
from .inference import BATCH_SIZES, evaluate, inference_ms_by_batch
from .profile_inference import StageClock, stages
from .results_files import write_results
from .training import train_like_detectron2

CONFIG = "configs/shapes/mask_rcnn_R18_FPN.yaml"
TIMED_IMAGES = 8


def _as_given(image, target=None):
    return image, target


class TorchvisionMaskRCNN(nn.Module):
    """torchvision's MaskRCNN behind detectron2's model interface (batched input
    dicts in; a loss dict in training, ``[{"instances": Instances}]`` in inference)."""

    def __init__(self, cfg):
        super().__init__()
        depth, fpn_channels = cfg.MODEL.RESNETS.DEPTH, cfg.MODEL.FPN.OUT_CHANNELS
        trunk = getattr(resnet, f"resnet{depth}")(weights=None, norm_layer=nn.BatchNorm2d)
        trunk_channels = [64, 128, 256, 512] if depth < 50 else [256, 512, 1024, 2048]
        backbone = BackboneWithFPN(
            trunk, {f"layer{k}": str(k - 1) for k in range(1, 5)}, trunk_channels, fpn_channels
        )
        box_pooler = cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION
        mask_dim = cfg.MODEL.ROI_MASK_HEAD.CONV_DIM
        num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES + 1  # torchvision counts the background
        # detectron2 normalises BGR 0..255 pixels; torchvision RGB 0..1: the same statistics,
        # reordered.
        self.network = MaskRCNN(
            backbone,
            image_mean=[value / 255 for value in reversed(cfg.MODEL.PIXEL_MEAN)],
            image_std=[value / 255 for value in reversed(cfg.MODEL.PIXEL_STD)],
            rpn_anchor_generator=AnchorGenerator(
                tuple(tuple(s) for s in cfg.MODEL.ANCHOR_GENERATOR.SIZES),
                (tuple(cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0]),)
                * len(cfg.MODEL.ANCHOR_GENERATOR.SIZES),
            ),
            rpn_pre_nms_top_n_train=cfg.MODEL.RPN.PRE_NMS_TOPK_TRAIN,
            rpn_pre_nms_top_n_test=cfg.MODEL.RPN.PRE_NMS_TOPK_TEST,
            rpn_post_nms_top_n_train=cfg.MODEL.RPN.POST_NMS_TOPK_TRAIN,
            rpn_post_nms_top_n_test=cfg.MODEL.RPN.POST_NMS_TOPK_TEST,
            box_head=TwoMLPHead(fpn_channels * box_pooler**2, cfg.MODEL.ROI_BOX_HEAD.FC_DIM),
            box_predictor=FastRCNNPredictor(cfg.MODEL.ROI_BOX_HEAD.FC_DIM, num_classes),
            box_batch_size_per_image=cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE,
            box_score_thresh=cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST,
            box_nms_thresh=cfg.MODEL.ROI_HEADS.NMS_THRESH_TEST,
            box_detections_per_img=cfg.TEST.DETECTIONS_PER_IMAGE,
            mask_head=MaskRCNNHeads(fpn_channels, [mask_dim] * cfg.MODEL.ROI_MASK_HEAD.NUM_CONV, 1),
            mask_predictor=MaskRCNNPredictor(mask_dim, mask_dim, num_classes),
        )
        # detectron2's loaders have resized (and in training cropped) the images already:
        # torchvision's transform only normalises and batches them.
        self.network.transform.resize = _as_given
        self.device = torch.device(cfg.MODEL.DEVICE)
        self.to(self.device)

    def stages(self):
        """The modules timed, by the names profile_inference.stages gives seg_d2's."""
        heads = self.network.roi_heads
        return {
            "backbone": [self.network.backbone],
            "RPN": [self.network.rpn],
            "RoI heads": [heads],
            "RoIAlign (in RoI heads)": [heads.box_roi_pool, heads.mask_roi_pool],
        }

    def _images(self, batched_inputs):
        return [x["image"].to(self.device)[[2, 1, 0]].float() / 255 for x in batched_inputs]

    def forward(self, batched_inputs):
        images = self._images(batched_inputs)
        if self.training:
            targets = []
            for x in batched_inputs:
                instances = x["instances"].to(self.device)
                targets.append(
                    {
                        "boxes": instances.gt_boxes.tensor,
                        "labels": instances.gt_classes + 1,
                        "masks": instances.gt_masks.tensor.to(torch.uint8),
                    }
                )
            return self.network(images, targets)
        outputs = []
        for x, image, prediction in zip(batched_inputs, images, self.network(images)):
            # torchvision answers at the size it was given; detectron2 at the record's size.
            height, width = x.get("height", image.shape[1]), x.get("width", image.shape[2])
            scale_x, scale_y = width / image.shape[2], height / image.shape[1]
            boxes = prediction["boxes"] * torch.tensor(
                [scale_x, scale_y, scale_x, scale_y], device=self.device
            )
            masks = (
                nn.functional.interpolate(
                    prediction["masks"], size=(height, width), mode="bilinear", align_corners=False
                )[:, 0]
                > 0.5
            )
            instances = Instances(
                (height, width),
                pred_boxes=Boxes(boxes),
                scores=prediction["scores"],
                pred_classes=prediction["labels"] - 1,
                pred_masks=masks,
            )
            outputs.append({"instances": instances})
        return outputs


SYSTEMS = {"seg_d2 Mask R-CNN": build_model, "torchvision MaskRCNN": TorchvisionMaskRCNN}
# each system's modules to time, by stage
STAGES = {"seg_d2 Mask R-CNN": stages, "torchvision MaskRCNN": TorchvisionMaskRCNN.stages}
# Stages that do not nest: what they leave of the total is normalisation, padding, mask
# pasting and (for torchvision) the adapter's conversions.
OUTER_STAGES = ("backbone", "RPN", "RoI heads")
OUTSIDE_THE_STAGES = "rest (normalise, pad, paste masks)"


def run(system, cfg, seed, inputs):
    model, result = train_like_detectron2(system, SYSTEMS[system], cfg, seed)
    with tempfile.TemporaryDirectory() as folder:  # train_net's evaluator: maxDets, derived files
        metrics = evaluate(
            model, inputs, Trainer.build_evaluator(cfg, cfg.DATASETS.TEST[0], folder)
        )
    # COCOEvaluator returns nothing when a model detects nothing: that is an AP of 0.
    result.update(
        mask_AP=metrics.get("segm", {}).get("AP", 0.0),
        box_AP=metrics.get("bbox", {}).get("AP", 0.0),
    )
    timed = inputs[:TIMED_IMAGES]
    per_batch, best = inference_ms_by_batch(model, timed, cfg.MODEL.DEVICE)
    result.update(
        inference_ms_batch1=per_batch[1],
        best_batch_size=best,
        inference_ms_best_batch=per_batch[best],
        detections_per_image=detections_per_image(model, timed),
    )
    # last: the clock's hooks stay on the model
    result["stage_ms_batch1"] = stage_ms_per_image(model, STAGES[system](model), timed)
    return result


@torch.no_grad()
def stage_ms_per_image(model, timed_stages, inputs):
    """Where batch-1 inference time goes, in ms per image: the stages, and the rest."""
    model.eval()
    model([inputs[0]])  # warm-up
    clock = StageClock(timed_stages)
    start = time.perf_counter()
    for one in inputs:
        model([one])
    total = 1000 * (time.perf_counter() - start) / len(inputs)
    per_image = {name: 1000 * seconds / len(inputs) for name, seconds in clock.seconds.items()}
    per_image[OUTSIDE_THE_STAGES] = total - sum(per_image[name] for name in OUTER_STAGES)
    per_image["total"] = total
    return per_image


@torch.no_grad()
def detections_per_image(model, inputs):
    """Mean instances returned per image: the RoI heads' mask branch and the pasting
    scale with them, so inference times compare only beside this."""
    model.eval()
    return float(np.mean([len(model([one])[0]["instances"]) for one in inputs]))


KEYS = {
    "train_iters_per_s": "train it/s",
    "inference_ms_batch1": "infer ms/img (b=1)",
    "inference_ms_best_batch": "infer ms/img (best b)",
    "peak_train_memory_MiB": "peak train MiB",
    "detections_per_image": "detections/img",
}


def table(runs):
    rows = []
    for system in SYSTEMS:
        mine = [run for run in runs if run["system"] == system]
        best_batches = sorted({run["best_batch_size"] for run in mine})
        rows.append(
            [
                system,
                f"{mine[0]['params_M']:.1f}",
                len(mine),
                spread(runs, system, "mask_AP"),
                spread(runs, system, "box_AP"),
                *(f"{median(runs, system, key):.2f}" for key in KEYS),
                "/".join(map(str, best_batches)),
            ]
        )
    ours, theirs = SYSTEMS
    rows.append(
        [
            "ratio seg_d2 / torchvision",
            "",
            "",
            "",
            "",
            *(f"{median(runs, ours, key) / median(runs, theirs, key):.2f}" for key in KEYS),
            "",
        ]
    )
    comparison = tabulate(
        rows,
        headers=["model", "params (M)", "seeds", "mask AP", "box AP", *KEYS.values(), "best b"],
        tablefmt="github",
    )
    return f"{comparison}\n\nInference at batch 1 by stage (ms per image):\n\n{stage_table(runs)}"


def stage_table(runs):
    """Medians over seeds of each stage's ms per image, side by side, with their ratio."""
    ours, theirs = SYSTEMS
    stage_runs = [{"system": run["system"], **run["stage_ms_batch1"]} for run in runs]
    rows = []
    for stage in runs[0]["stage_ms_batch1"]:
        times = [median(stage_runs, system, stage) for system in (ours, theirs)]
        rows.append([stage, *(f"{ms:.1f}" for ms in times), f"{times[0] / times[1]:.2f}"])
    return tabulate(
        rows, headers=["stage", ours, theirs, "ratio"], tablefmt="github", disable_numparse=True
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config-file", default=CONFIG, help="a seg_d2 Mask R-CNN config (default: the demo's)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument(
        "--name", default="instance_torchvision", help="file name under benchmarks/results/"
    )
    parser.add_argument("overrides", nargs="*", help="KEY VALUE config overrides for both models")
    args = parser.parse_args(argv)
    iters = args.iters
    # The config's warm-up, but at most half of a short schedule: from scratch with BN,
    # a warm-up of a few iterations at this learning rate diverges. The config's gradient
    # clipping (per parameter, norm 5) applies to both: without it torchvision's model
    # diverged at the demo's learning rate (NaN at iteration 50 of the quick run, seed 0).
    given = seg_d2.setup_config(args.config_file, args.overrides)
    warmup = min(given.SOLVER.WARMUP_ITERS, max(1, iters // 2))
    overrides = [
        "SOLVER.MAX_ITER",
        str(iters),
        "SOLVER.WARMUP_ITERS",
        str(warmup),
        "SOLVER.STEPS",
        f"({iters * 3 // 4}, {iters * 37 // 40})",
        *args.overrides,
    ]
    runs, text = compare_on_test_split(args.config_file, overrides, SYSTEMS, args.seeds, run, table)
    return write_results(
        args.name,
        f"Mask R-CNN: seg_d2 vs torchvision on {given.DATASETS.TEST[0]}",
        f"Config {args.config_file} with {' '.join(overrides)}; seeds {args.seeds}; AP is 'mean ± "
        "half range' over seeds, "
        "the other columns are medians over seeds (train it/s from each run's median step; "
        "inference on the "
        f"first {TIMED_IMAGES} validation images held in memory, median of 3 passes, batch sizes "
        f"{BATCH_SIZES}); "
        "ratios > 1 favour seg_d2 for it/s and < 1 for ms and MiB; detections/img is the mean "
        "number of instances each model returns per timed image (inference time grows with "
        "it); peak train MiB is the growth of the training process's heap (data loader "
        "workers not counted).",
        text,
        {"overrides": overrides, "runs": runs},
    )


if __name__ == "__main__":
    main()
