"""Training and evaluation from a Python config, as detectron2's
``tools/lazyconfig_train_net.py`` does them, with what seg_d2's Trainer adds for YAML
configs: its training step (``build_train_loop``), atomic checkpoints, gradient clipping
(``train.clip_gradients``), a seeded sampler continued on ``--resume``, the best
checkpoint and early stopping (``train.best_checkpoint_metric``, ``train.patience``),
sliding windows and test-time augmentation (``test``)."""

import logging

from detectron2.config import CfgNode, instantiate
from detectron2.data.samplers import TrainingSampler
from detectron2.engine import default_writers, hooks
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.solver.build import maybe_add_gradient_clipping
from detectron2.utils import comm
from detectron2.utils.registry import locate
from omegaconf import OmegaConf

from ..compat import reset_data_loader
from ..config_setup import settings_of
from ..data.samplers import continued
from ..modeling.test_options import with_test_options
from .checkpoint import SafeCheckpointer, load_weights
from .early_stopping import TrainingStoppedEarly, after_evaluation_hooks
from .model_preparation import data_parallel, prepare_model
from .train_loop import build_train_loop

__all__ = [
    "best_and_early_stopping_hooks",
    "build_lazy_model",
    "build_lazy_train_loader",
    "evaluate_lazy",
    "load_lazy_model",
    "train_lazy",
]


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
    """The results of ``dataloader.evaluator`` on ``dataloader.test``, the model run with
    the ``test`` entry's sliding windows and test-time augmentation."""
    if "evaluator" not in cfg.dataloader:
        return {}
    results = inference_on_dataset(
        with_test_options(settings_of(cfg).test_options(), model),
        instantiate(cfg.dataloader.test),
        instantiate(cfg.dataloader.evaluator),
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


def build_lazy_train_loader(cfg, start_iter=0):
    """``dataloader.train``; unless it names a sampler, with detectron2's training
    sampler seeded by ``train.seed`` (when >= 0: detectron2 draws one, so a resumed run
    would draw another), continued past what iterations 0..start_iter-1 drew."""
    loader = cfg.dataloader.train
    arguments = {key: instantiate(loader[key]) for key in loader if key != "_target_"}
    if arguments.get("sampler") is None:
        seed = cfg.train.get("seed", -1)
        arguments["sampler"] = TrainingSampler(
            len(arguments["dataset"]), seed=seed if seed >= 0 else None
        )
    steps = cfg.train.get("accumulate_grad_steps", 1)
    arguments["sampler"] = continued(
        arguments["sampler"], start_iter, arguments["total_batch_size"] * steps
    )
    target = loader._target_
    return (locate(target) if isinstance(target, str) else target)(**arguments)


def best_and_early_stopping_hooks(cfg, checkpointer):
    """``after_evaluation_hooks`` of ``train.best_checkpoint_metric`` and ``train.patience``
    (none where the config names no metric), as the YAML Trainer's ``build_hooks``."""
    metric = cfg.train.get("best_checkpoint_metric")
    if not metric:
        return []
    return after_evaluation_hooks(
        checkpointer.model,
        cfg.train.output_dir,
        cfg.train.eval_period,
        metric,
        cfg.train.get("patience", 0),
    )


def train_lazy(cfg, resume=False):
    """Train as ``cfg.train`` says; the last evaluation's results."""
    model = build_lazy_model(cfg)
    logging.getLogger(__name__).info("Model:\n%s", model)
    cfg.optimizer.params.model = model
    optimizer = _clipped(cfg, instantiate(cfg.optimizer))
    data_loader = build_lazy_train_loader(cfg)
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
    trainer.checkpointer = checkpointer  # early stopping saves model_final with it
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
            *best_and_early_stopping_hooks(cfg, checkpointer),
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
    if start_iter > 0:
        reset_data_loader(trainer, lambda: build_lazy_train_loader(cfg, start_iter))
    try:
        trainer.train(start_iter, cfg.train.max_iter)
    except TrainingStoppedEarly:
        pass  # the last evaluation's results, as at the end of a full run
    return last_results
