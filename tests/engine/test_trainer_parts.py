"""Parts of seg_d2's Trainer that need no training: where evaluation writes, and the
advice a diverged run ends with."""

from types import SimpleNamespace

import seg_d2
from seg_d2.engine import Trainer, trainer


def test_evaluation_writes_under_the_runs_inference_folder_unless_told(monkeypatch):
    monkeypatch.setattr(trainer, "build_evaluator", lambda *args: args)
    cfg = seg_d2.load_config("configs/shapes/unet.yaml", ["OUTPUT_DIR", "/runs/a"])
    detections = cfg.TEST.DETECTIONS_PER_IMAGE
    assert Trainer.build_evaluator(cfg, "val") == ("val", "/runs/a/inference/val", detections)
    assert Trainer.build_evaluator(cfg, "val", "/elsewhere") == ("val", "/elsewhere", detections)


def _advice(checkpoint):
    checkpointer = SimpleNamespace(
        has_checkpoint=lambda: checkpoint is not None, get_checkpoint_file=lambda: checkpoint
    )
    return Trainer._divergence_advice(SimpleNamespace(checkpointer=checkpointer))


def test_a_diverged_run_says_what_to_change_and_what_it_kept():
    advice = (
        ". Training diverged: lower SOLVER.BASE_LR, lengthen SOLVER.WARMUP_ITERS or set "
        "SOLVER.CLIP_GRADIENTS.ENABLED True, check the data (python -m seg_d2.data.validate), "
        "then restart, or continue with --resume from that checkpoint."
    )
    assert _advice("/runs/a/model_0000199.pth") == (
        "The last good checkpoint, /runs/a/model_0000199.pth, is intact" + advice
    )
    assert _advice(None) == "No checkpoint had been written yet" + advice


def test_results_json_is_strict_json_with_null_for_nan(tmp_path):
    import json
    import math

    results = {"sem_seg": {"mIoU": 50.0, "IoU-star": math.nan, "per": [1.0, math.inf]}}
    path = trainer.write_results(str(tmp_path), results)

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    written = json.loads(open(path).read(), parse_constant=refuse)
    assert written == {"sem_seg": {"mIoU": 50.0, "IoU-star": None, "per": [1.0, None]}}


def test_results_are_written_by_the_first_process_only_indented_in_the_run_folder(
    tmp_path, monkeypatch
):
    path = trainer.write_results(str(tmp_path / "run"), {"sem_seg": {"mIoU": 50.0}})
    assert path == str(tmp_path / "run" / "results.json")
    assert open(path).read() == '{\n  "sem_seg": {\n    "mIoU": 50.0\n  }\n}'
    assert trainer.write_results(str(tmp_path / "empty"), {}) is None
    monkeypatch.setattr(trainer.comm, "is_main_process", lambda: False)
    assert trainer.write_results(str(tmp_path / "other"), {"a": 1}) is None
    assert not (tmp_path / "empty").exists() and not (tmp_path / "other").exists()


def _logged(error):
    import logging
    import sys

    try:
        raise error
    except Exception:
        record = logging.LogRecord(
            "t", logging.ERROR, "f", 1, "Exception during training:", (), sys.exc_info()
        )
    kept = trainer._WithoutTracebackOfToldErrors().filter(record)
    return kept, record


def test_told_errors_are_logged_without_their_traceback_and_an_early_stop_not_at_all():
    from seg_d2.engine.checkpoint import CheckpointError
    from seg_d2.engine.early_stopping import TrainingStoppedEarly

    assert _logged(TrainingStoppedEarly("stopped"))[0] is False
    for told in (FloatingPointError("Loss became infinite"), CheckpointError("disk full")):
        kept, record = _logged(told)
        assert kept is True and record.exc_info is None
        assert record.msg == "Exception during training: (SEG_D2_TRACEBACK=1 shows the traceback)"
    kept, record = _logged(KeyError("a bug"))
    assert kept is True and record.exc_info[0] is KeyError
    assert record.msg == "Exception during training:"


def test_the_batch_of_a_step_is_split_into_parts_over_the_processes(monkeypatch):
    from seg_d2.errors import ConfigError

    import pytest

    cfg = seg_d2.get_cfg()
    cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.ACCUMULATE_GRAD_STEPS = 8, 2
    monkeypatch.setattr(trainer.comm, "get_world_size", lambda: 2)
    assert (
        trainer.images_per_batch_part(cfg) == 4 and type(trainer.images_per_batch_part(cfg)) is int
    )
    cfg.SOLVER.IMS_PER_BATCH = 6
    with pytest.raises(ConfigError, match="IMS_PER_BATCH 6 must be a multiple of .* 2 times .* 2"):
        trainer.images_per_batch_part(cfg)
    cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.ACCUMULATE_GRAD_STEPS = 8, 0
    with pytest.raises(ConfigError, match="ACCUMULATE_GRAD_STEPS 0"):
        trainer.images_per_batch_part(cfg)


def _hooks(tmp_path, monkeypatch, main_process=True, **settings):
    from seg_d2.engine.checkpoint import SafeCheckpointer

    from detectron2.engine import DefaultTrainer
    from torch import nn

    cfg = seg_d2.load_config("configs/shapes/unet.yaml", ["OUTPUT_DIR", str(tmp_path)])
    cfg.TEST.EVAL_PERIOD, cfg.SOLVER.PATIENCE = settings["period"], settings["patience"]
    owner = Trainer.__new__(Trainer)
    owner.cfg, owner.checkpointer = cfg, SafeCheckpointer(nn.Linear(1, 1), str(tmp_path))
    monkeypatch.setattr(DefaultTrainer, "build_hooks", lambda self: ["detectron2's"])
    monkeypatch.setattr(trainer.comm, "is_main_process", lambda: main_process)
    return Trainer.build_hooks(owner)


def test_evaluation_adds_the_best_checkpoint_and_patience_adds_early_stopping(
    tmp_path, monkeypatch
):
    from seg_d2.engine.early_stopping import EarlyStopping

    from detectron2.engine import hooks

    assert _hooks(tmp_path, monkeypatch, period=0, patience=3) == ["detectron2's"]
    detectron2s, best, stopping = _hooks(tmp_path, monkeypatch, period=1, patience=1)
    assert isinstance(best, hooks.BestCheckpointer) and (tmp_path / "best").is_dir()
    assert isinstance(stopping, EarlyStopping)
    assert (stopping._period, stopping._metric, stopping._patience) == (1, "sem_seg/mIoU", 1)
    again = _hooks(tmp_path, monkeypatch, period=5, patience=0)  # best/ exists already
    assert [type(h) for h in again[1:]] == [hooks.BestCheckpointer]
    other_process = _hooks(tmp_path, monkeypatch, main_process=False, period=5, patience=2)
    assert [type(h) for h in other_process[1:]] == [EarlyStopping]
