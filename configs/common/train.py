"""detectron2's ``train`` entries for Python configs (its model zoo's common/train.py),
with the periods and seed the YAML configs set; seg_d2 reads a few more (below)."""

from detectron2.model_zoo import get_config


def train(output_dir, max_iter, checkpoint_period, eval_period, **entries):
    """``train`` for ``output_dir``; ``entries`` set or add others (``amp``,
    ``clip_gradients``, ``accumulate_grad_steps``, ``channels_last``, ``seed``)."""
    config = get_config("common/train.py").train
    config.update(
        output_dir=output_dir,
        max_iter=max_iter,
        checkpointer=dict(period=checkpoint_period, max_to_keep=100),
        eval_period=eval_period,
        device="cuda",
        seed=0,
        **entries,
    )
    return config
