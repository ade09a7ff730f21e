"""Training and evaluation from a Python config, as detectron2's
``tools/lazyconfig_train_net.py`` does them, with seg_d2's training step
(``build_train_loop``), atomic checkpoints and gradient clipping from
``train.clip_gradients``."""

import logging

from detectron2.config import CfgNode, instantiate
from detectron2.engine import default_writers, hooks
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.solver.build import maybe_add_gradient_clipping
from detectron2.utils import comm
from omegaconf import OmegaConf

from .checkpoint import SafeCheckpointer, load_weights
from .model_preparation import data_parallel, prepare_model
from .train_loop import build_train_loop

__all__ = ["build_lazy_model", "evaluate_lazy", "load_lazy_model", "train_lazy"]


def build_lazy_model(cfg):
    """The config's model, on ``train.device``, with random weights; in channels-last
    memory format when ``train.channels_last`` (``MODEL.CHANNELS_LAST``); with SyncBN that
    gloo can run when several processes train on a CPU."""
    return prepare_model(
        instantiate(cfg.model).to(cfg.train.device),
        device=cfg.train.device,
        channels_last=cfg.train.get("channels_last", False),
    )


def load_lazy_model(cfg, weights):
    """The config's model with ``weights``, in eval mode."""
    model = build_lazy_model(cfg)
    return load_weights(model, weights).eval()


def evaluate_lazy(cfg, model):
    """The results of ``dataloader.evaluator`` on ``dataloader.test``."""
    if "evaluator" not in cfg.dataloader:
        return {}
    results = inference_on_dataset(
        model, instantiate(cfg.dataloader.test), instantiate(cfg.dataloader.evaluator)
    )
    if comm.is_main_process():
        print_csv_format(results)
    return results


def _clipped(cfg, optimizer):
    """``train.clip_gradients`` applied to ``optimizer`` as detectron2 applies
    ``SOLVER.CLIP_GRADIENTS``."""
    clip = OmegaConf.select(cfg, "train.clip_gradients")
    if clip is None:
        return optimizer
    solver = CfgNode({"CLIP_GRADIENTS": {"NORM_TYPE": 2.0}})
    solver.CLIP_GRADIENTS.update({key.upper(): value for key, value in clip.items()})
    return maybe_add_gradient_clipping(CfgNode({"SOLVER": solver}), optimizer)


def train_lazy(cfg, resume=False):
    """Train as ``cfg.train`` says; the last evaluation's results."""
    model = build_lazy_model(cfg)
    logging.getLogger(__name__).info("Model:\n%s", model)
    cfg.optimizer.params.model = model
    optimizer = _clipped(cfg, instantiate(cfg.optimizer))
    data_loader = instantiate(cfg.dataloader.train)
    model = data_parallel(model, **cfg.train.ddp)
    trainer = build_train_loop(
        model,
        data_loader,
        optimizer,
        device=cfg.train.device,
        amp=cfg.train.amp.enabled,
        accumulate_steps=cfg.train.get("accumulate_grad_steps", 1),
    )
    checkpointer = SafeCheckpointer(
        model, cfg.train.output_dir, optimizer=optimizer, trainer=trainer
    )
    last_results = {}

    def evaluate():
        last_results.update(evaluate_lazy(cfg, model))
        return last_results

    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
            hooks.PeriodicCheckpointer(checkpointer, **cfg.train.checkpointer)
            if comm.is_main_process()
            else None,
            hooks.EvalHook(cfg.train.eval_period, evaluate),
            hooks.PeriodicWriter(
                default_writers(cfg.train.output_dir, cfg.train.max_iter),
                period=cfg.train.log_period,
            )
            if comm.is_main_process()
            else None,
        ]
    )
    checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=resume)
    start_iter = trainer.iter + 1 if resume and checkpointer.has_checkpoint() else 0
    trainer.train(start_iter, cfg.train.max_iter)
    return last_results
