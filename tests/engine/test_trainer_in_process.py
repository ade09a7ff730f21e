"""seg_d2's Trainer run in this process (the fast tier's view; the slow tests run
tools/train_net.py): the last evaluation's results, evaluation of the model as the config
asks, the test loader's mapping, and a resumed run that keeps the optimizer's state."""

import os

import seg_d2
from seg_d2.engine import Trainer

import pytest
import torch
from detectron2.data import DatasetCatalog
from helpers import REPO, SEMANTIC_DATASETS, UNET, train_net_command

pytestmark = pytest.mark.usefixtures("tiny_datasets_removed_after")


def _config(data, output_dir, *overrides):
    command = train_net_command(
        UNET, output_dir, data, *overrides, datasets=SEMANTIC_DATASETS, size=64
    )
    opts = command[command.index("--config-file") + 2 :]
    return seg_d2.setup_config(os.path.join(REPO, UNET), opts)


def _optimizer_state(optimizer):
    """The optimizer's per-parameter tensors (momentum, or Adam's moments)."""
    return [
        value
        for state in optimizer.state_dict()["state"].values()
        for _, value in sorted(state.items())
        if torch.is_tensor(value) and value.dim() > 0
    ]


def test_train_evaluate_and_resume_with_the_optimizers_state(tiny_shapes, tmp_path):
    schedule = ("SOLVER.CHECKPOINT_PERIOD", "3", "TEST.EVAL_PERIOD", "3")
    cfg = _config(tiny_shapes, tmp_path, "SOLVER.MAX_ITER", "3", *schedule)
    first = Trainer(cfg)
    first.resume_or_load(resume=False)
    results = first.train()
    assert set(results["sem_seg"]) >= {"mIoU", "pACC"}
    first.model.eval()
    assert Trainer.test(cfg, first.model) == results  # the same model, evaluated again

    resumed_cfg = _config(tiny_shapes, tmp_path, "SOLVER.MAX_ITER", "4", *schedule)
    resumed = Trainer(resumed_cfg)
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 3
    saved, restored = _optimizer_state(first.optimizer), _optimizer_state(resumed.optimizer)
    assert len(restored) == len(saved) > 0
    for before, after in zip(saved, restored):
        torch.testing.assert_close(after, before)


def test_the_test_loader_maps_images_as_for_evaluation(tiny_shapes, tmp_path):
    cfg = _config(tiny_shapes, tmp_path, "INPUT.MIN_SIZE_TRAIN", "(96,)")
    (record,) = next(iter(Trainer.build_test_loader(cfg, "tiny_val_sem_seg")))
    assert min(record["image"].shape[-2:]) == 64  # INPUT.MIN_SIZE_TEST, not the training's
    assert record["file_name"] == DatasetCatalog.get("tiny_val_sem_seg")[0]["file_name"]


def test_the_step_follows_amp_and_accumulation_and_a_new_run_starts_at_0(
    tiny_shapes, tmp_path, monkeypatch
):
    from seg_d2.engine import CPUAutocastTrainer, train_loop

    monkeypatch.setattr(train_loop, "cpu_computes_bfloat16", lambda: True)
    cfg = _config(
        tiny_shapes, tmp_path, "SOLVER.AMP.ENABLED", "True", "SOLVER.ACCUMULATE_GRAD_STEPS", "2"
    )
    built = Trainer(cfg)
    assert type(built._trainer) is CPUAutocastTrainer and built._trainer.accumulate_steps == 2
    assert built.scheduler is not None
    built.resume_or_load(resume=False)
    assert built.start_iter == 0


def test_the_set_up_is_default_trainers_but_for_the_three_choices_it_is_given(
    tiny_shapes, tmp_path
):
    """seg_d2.compat writes DefaultTrainer.__init__ out (detectron2 has no hook for the
    model wrapper, the step or the checkpointer); given detectron2's own three choices it
    builds what DefaultTrainer builds, on the installed detectron2."""
    import weakref

    from seg_d2.compat import set_up_like_default_trainer

    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.engine import DefaultTrainer, SimpleTrainer

    class WrittenOut(DefaultTrainer):
        def __init__(self, cfg):
            set_up_like_default_trainer(
                self,
                cfg,
                wrap_model=lambda model: model,  # create_ddp_model's, in one process
                build_step=lambda model, loader, optimizer, cfg: SimpleTrainer(
                    model, loader, optimizer
                ),
                build_checkpointer=lambda model, folder, trainer: DetectionCheckpointer(
                    model, folder, trainer=weakref.proxy(trainer)
                ),
            )

    cfg = _config(tiny_shapes, tmp_path, "SOLVER.STEPS", "(2,)", "TEST.EVAL_PERIOD", "2")
    torch.manual_seed(0)
    theirs = DefaultTrainer(cfg)
    torch.manual_seed(0)
    ours = WrittenOut(cfg)
    assert sorted(vars(ours)) == sorted(vars(theirs))
    assert [type(hook) for hook in ours._hooks] == [type(hook) for hook in theirs._hooks]
    assert (ours.start_iter, ours.max_iter, ours.iter) == (
        theirs.start_iter,
        theirs.max_iter,
        theirs.iter,
    )
    assert ours.cfg == theirs.cfg and ours.checkpointer.save_dir == theirs.checkpointer.save_dir
    assert type(ours.scheduler) is type(theirs.scheduler)
    assert ours.scheduler.state_dict() == theirs.scheduler.state_dict()
    assert type(ours._trainer.data_loader) is type(theirs._trainer.data_loader)
    for mine, detectron2s in zip(
        ours.model.state_dict().values(), theirs.model.state_dict().values()
    ):
        torch.testing.assert_close(mine, detectron2s)


def _float_tensors(state):
    return {name: tensor.clone() for name, tensor in state.items() if tensor.is_floating_point()}


def _same(state, expected):
    """Whether ``state`` holds ``expected``'s tensors, each equal."""
    return all(torch.equal(state[name], tensor) for name, tensor in expected.items())


def test_with_model_ema_the_average_is_evaluated_checkpointed_and_loaded_for_inference(
    tiny_shapes, tmp_path, monkeypatch
):
    from seg_d2.engine.checkpoint import SafeCheckpointer
    from seg_d2.engine.model_ema import CHECKPOINT_KEY

    def run(max_iter, resume):
        cfg = _config(
            tiny_shapes,
            tmp_path,
            *("SOLVER.MAX_ITER", str(max_iter), "SOLVER.CHECKPOINT_PERIOD", "2"),
            *("TEST.EVAL_PERIOD", "2", "TEST.BEST_CHECKPOINT_METRIC", "sem_seg/mIoU"),
            *("MODEL_EMA.ENABLED", "True", "MODEL_EMA.DECAY", "0.5"),
        )
        trainer = Trainer(cfg)
        trainer.resume_or_load(resume=resume)
        return cfg, trainer

    evaluated = []

    def test(cls, cfg, model, evaluators=None):
        evaluated.append(_float_tensors(model.state_dict()))
        return {"sem_seg": {"mIoU": 50.0}}

    monkeypatch.setattr(Trainer, "test", classmethod(test))
    cfg, trainer = run(2, resume=False)
    trainer.train()
    average = _float_tensors(trainer.model_ema.averaged.module.state_dict())
    own = _float_tensors(trainer.model.state_dict())
    (seen,) = evaluated
    assert seen.keys() == average.keys() == own.keys()
    assert _same(seen, average)
    assert not _same(own, average)

    # updated before the checkpoint of the same step is written, in the best one too
    final = os.path.join(cfg.OUTPUT_DIR, "model_final.pth")
    for path in (final, os.path.join(cfg.OUTPUT_DIR, "best", "model_best.pth")):
        saved = torch.load(path, weights_only=True)
        assert int(saved[CHECKPOINT_KEY]["n_averaged"]) == 2, path

    loaded = Trainer.build_model(cfg)
    SafeCheckpointer(loaded).load(final)
    inference = _float_tensors(loaded.state_dict())
    assert _same(inference, average)

    _, resumed = run(3, resume=True)
    assert int(resumed.model_ema.averaged.n_averaged) == 2
    restored = _float_tensors(resumed.model_ema.averaged.module.state_dict())
    assert _same(restored, average)
    trained = _float_tensors(resumed.model.state_dict())
    assert _same(trained, own)
