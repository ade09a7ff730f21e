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
