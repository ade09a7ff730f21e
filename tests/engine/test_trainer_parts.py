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
