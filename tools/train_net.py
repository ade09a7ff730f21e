#!/usr/bin/env python
"""Train or evaluate a seg_d2 model, as detectron2's tools/train_net.py does.

python tools/train_net.py --config-file configs/... [--eval-only] [--resume] [KEY VALUE ...]
"""

import os

import seg_d2  # noqa: F401  (first: registers seg_d2's components, fixes detectron2 0.6)
from seg_d2.cli import run_command
from seg_d2.engine import Trainer, write_results
from seg_d2.plots import plot_metrics

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.utils import comm


def setup(args):
    cfg = seg_d2.setup_config(args.config_file, args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        results = Trainer.test(cfg, model)
    else:
        trainer = Trainer(cfg)
        trainer.resume_or_load(resume=args.resume)
        results = trainer.train()
        if comm.is_main_process():
            plot_metrics(
                os.path.join(cfg.OUTPUT_DIR, "metrics.json"), os.path.join(cfg.OUTPUT_DIR, "plots")
            )
    write_results(cfg.OUTPUT_DIR, results)
    return results


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    run_command(
        launch,
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
