"""Train or evaluate a seg_d2 model, as detectron2's tools/train_net.py does, and from a
Python config as its tools/lazyconfig_train_net.py does.

seg-d2 train --config-file configs/....yaml [--eval-only] [--resume] [KEY VALUE ...]
seg-d2 train --config-file configs/....py [--eval-only] [--resume] [key=value ...]

Several processes: --num-gpus N [--num-machines M --machine-rank R --dist-url URL], or
started by torchrun or SLURM's srun, whose job each process joins (seg_d2/engine/launch.py).

``python tools/train_net.py`` runs the same command.
"""

import logging
import os
import sys

import seg_d2
from seg_d2.cli import run_command
from seg_d2.config_setup import is_lazy_config
from seg_d2.engine import Trainer, launch, write_results
from seg_d2.engine.checkpoint import SafeCheckpointer
from seg_d2.engine.launch import argument_parser, resume_after_restart
from seg_d2.engine.lazy_training import evaluate_lazy, load_lazy_model, train_lazy
from seg_d2.engine.run_folder import write_run_metadata
from seg_d2.engine.run_lock import hold_output_folder
from seg_d2.plots import plot_metrics

from detectron2.engine import default_setup
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger


def setup(args):
    """The config, with its output folder held by this run (``hold_output_folder``) before
    detectron2's set-up writes its config and log there."""
    cfg = seg_d2.setup_config(args.config_file, args.opts)
    if not is_lazy_config(cfg):
        cfg.freeze()
    if comm.is_main_process():
        hold_output_folder(output_folder(cfg))
    _keep_dumps_off_the_console(output_folder(cfg))
    default_setup(cfg, args)
    write_run_metadata(output_folder(cfg), cfg)  # with default_setup's config.yaml: a model
    return cfg


# Log records of hundreds of lines each (the environment, the config file, the full
# config, the model) that go to OUTPUT_DIR/log.txt (and config.yaml) but not to the console.
_FILES_ONLY = (
    "Environment info:",
    "Contents of args.config_file",
    "Running with full config",
    "Model:\n",
)


class _FilesOnly(logging.Filter):
    def filter(self, record):
        return not str(record.msg).startswith(_FILES_ONLY)


def _keep_dumps_off_the_console(output_dir):
    """detectron2's logger as ``default_setup`` makes it (the same call, so the same cached
    logger), its console handler told to leave the dumps to the log file."""
    logger = setup_logger(output_dir, distributed_rank=comm.get_rank())
    for handler in logger.handlers:  # detectron2 writes log.txt through a StreamHandler too
        if getattr(handler, "stream", None) in (sys.stdout, sys.stderr):
            handler.addFilter(_FilesOnly())


def output_folder(cfg):
    return cfg.train.output_dir if is_lazy_config(cfg) else cfg.OUTPUT_DIR


def train_or_evaluate(cfg, args):
    """The results of the run ``args`` asks for."""
    if is_lazy_config(cfg):
        if args.eval_only:
            return evaluate_lazy(cfg, load_lazy_model(cfg, cfg.train.init_checkpoint))
        return train_lazy(cfg, resume=args.resume)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        SafeCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        return Trainer.test(cfg, model)
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def main(args):
    resume_after_restart(args)
    cfg = setup(args)
    results = train_or_evaluate(cfg, args)
    output_dir = output_folder(cfg)
    if not args.eval_only and comm.is_main_process():
        plot_metrics(os.path.join(output_dir, "metrics.json"), os.path.join(output_dir, "plots"))
    write_results(output_dir, results)
    return results


EXAMPLES = """examples:
  seg-d2 train --config-file configs/shapes/mask_rcnn_R18_FPN.yaml
  seg-d2 train --config-file configs/nuclei/unet.yaml --num-gpus 2 SOLVER.MAX_ITER 500
  seg-d2 train --config-file configs/shapes/unet.yaml --resume OUTPUT_DIR output/shapes/unet
  seg-d2 eval --config-file configs/shapes/unet.yaml \\
      MODEL.WEIGHTS output/shapes/unet/model_final.pth
"""


def run(argv=None):
    """Parse ``argv`` as detectron2's tools do, then train (or evaluate) in every process of
    the job (``seg_d2.engine.launch``)."""
    parser = argument_parser(EXAMPLES)
    args = parser.parse_args(argv)
    if not args.config_file:
        parser.error("--config-file is required, e.g. configs/shapes/mask_rcnn_R18_FPN.yaml")
    run_command(
        launch,
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
    return 0
