"""detectron2's ``train`` entries for Python configs (its model zoo's common/train.py), with
every value taken from a YAML config as seg_d2's Trainer takes it, and the entries only
seg_d2 reads (below)."""

from detectron2.model_zoo import get_config


def train(cfg):
    """``train`` of ``OUTPUT_DIR``, ``MODEL.WEIGHTS``, ``MODEL.DEVICE``, ``SEED``, the
    schedule's length and periods; seg_d2's own: ``channels_last``, ``clip_gradients``,
    ``accumulate_grad_steps``, ``reference_batch_size`` (``SOLVER.REFERENCE_IMS_PER_BATCH``),
    ``best_checkpoint_metric`` and ``patience``."""
    solver = cfg.SOLVER
    config = get_config("common/train.py").train
    config.update(
        output_dir=cfg.OUTPUT_DIR,
        init_checkpoint=cfg.MODEL.WEIGHTS,
        max_iter=solver.MAX_ITER,
        amp=dict(enabled=solver.AMP.ENABLED),
        eval_period=cfg.TEST.EVAL_PERIOD,
        device=cfg.MODEL.DEVICE,
        seed=cfg.SEED,
        channels_last=cfg.MODEL.CHANNELS_LAST,
        accumulate_grad_steps=solver.ACCUMULATE_GRAD_STEPS,
        reference_batch_size=solver.REFERENCE_IMS_PER_BATCH,
        best_checkpoint_metric=cfg.TEST.BEST_CHECKPOINT_METRIC,
        patience=solver.PATIENCE,
    )
    config.checkpointer.period = solver.CHECKPOINT_PERIOD
    clip = solver.CLIP_GRADIENTS
    if clip.ENABLED:
        config.clip_gradients = dict(
            enabled=True,
            clip_type=clip.CLIP_TYPE,
            clip_value=clip.CLIP_VALUE,
            norm_type=clip.NORM_TYPE,
        )
    return config
