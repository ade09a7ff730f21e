"""detectron2's DefaultTrainer, told which evaluator fits each seg_d2 dataset and
which checkpoint is best."""

import contextlib
import json
import logging
import math
import os
import weakref

import torch
from detectron2.data import (
    DatasetCatalog,
    build_detection_test_loader,
    build_detection_train_loader,
)
from detectron2.data.samplers import TrainingSampler
from detectron2.engine import DefaultTrainer, hooks
from detectron2.engine.train_loop import TrainerBase
from detectron2.solver.build import get_default_optimizer_params, maybe_add_gradient_clipping
from detectron2.utils import comm

from ..atomic_files import write_text_atomically
from ..compat import reset_data_loader, set_up_like_default_trainer
from ..data.augmentation import build_train_mapper
from ..data.mapper import DatasetMapper
from ..data.samplers import continued
from ..errors import TRACEBACK_VARIABLE, ConfigError, SegD2Error, TrainingDivergedError
from ..evaluation import build_evaluator
from ..modeling import with_test_options
from .checkpoint import SafeCheckpointer
from .early_stopping import TrainingStoppedEarly, after_evaluation_hooks
from .model_ema import CHECKPOINT_KEY as EMA_CHECKPOINT_KEY
from .model_ema import ModelEMA
from .model_preparation import data_parallel, prepare_model
from .onnx_backend import evenly_spaced, with_backend
from .tracking import build_writers
from .train_loop import build_train_loop

__all__ = ["OPTIMIZERS", "Trainer", "write_results"]

RESULTS_FILE = "results.json"
OPTIMIZERS = ("SGD", "ADAMW")


class Trainer(DefaultTrainer):
    def __init__(self, cfg):
        """DefaultTrainer's set-up, except that the model is wrapped for several processes
        by ``data_parallel`` (detectron2's wrapper fails for a model on the CPU), the step
        is ``build_train_loop``'s (CPU autocast, gradient accumulation) and checkpoints
        are atomic (``SafeCheckpointer``), so that every checkpoint detectron2's hooks
        write is whole or absent."""
        set_up_like_default_trainer(
            self,
            cfg,
            wrap_model=lambda model: data_parallel(model, broadcast_buffers=False),
            build_step=lambda model, data_loader, optimizer, cfg: build_train_loop(
                model,
                data_loader,
                optimizer,
                device=cfg.MODEL.DEVICE,
                amp=cfg.SOLVER.AMP.ENABLED,
                accumulate_steps=cfg.SOLVER.ACCUMULATE_GRAD_STEPS,
            ),
            build_checkpointer=lambda model, output_dir, trainer: SafeCheckpointer(
                model, output_dir, trainer=weakref.proxy(trainer)
            ),
        )

    @classmethod
    def build_model(cls, cfg):
        """detectron2's model; in channels-last format when ``MODEL.CHANNELS_LAST``; with
        SyncBN that gloo can run when several processes train on a CPU."""
        return prepare_model(
            super().build_model(cfg),
            device=cfg.MODEL.DEVICE,
            channels_last=cfg.MODEL.CHANNELS_LAST,
        )

    @classmethod
    def build_train_loader(cls, cfg, start_iter=0):
        """detectron2's loader, except that a fixed ``SEED`` also seeds the training
        sampler (detectron2 draws its seed, so a resumed run would draw another), and
        that a run resumed at ``start_iter`` continues the sampler's stream past the
        images iterations 0..start_iter-1 drew on this process. With
        ``SOLVER.ACCUMULATE_GRAD_STEPS`` the loader's batches are the parts of one
        ``IMS_PER_BATCH``."""
        loader_args = build_detection_train_loader.from_config(cfg, mapper=build_train_mapper(cfg))
        loader_args["total_batch_size"] = images_per_batch_part(cfg)
        if cfg.SEED >= 0 and cfg.DATALOADER.SAMPLER_TRAIN == "TrainingSampler":
            loader_args["sampler"] = TrainingSampler(len(loader_args["dataset"]), seed=cfg.SEED)
        loader_args["sampler"] = continued(
            loader_args["sampler"], start_iter, cfg.SOLVER.IMS_PER_BATCH
        )
        return build_detection_train_loader(**loader_args)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        """detectron2's test loader with seg_d2's mapper (images read as in training)."""
        return build_detection_test_loader(
            cfg, dataset_name, mapper=DatasetMapper(cfg, is_train=False)
        )

    def resume_or_load(self, resume=True):
        super().resume_or_load(resume)
        if self.start_iter > 0:
            reset_data_loader(
                self._trainer, lambda: self.build_train_loader(self.cfg, self.start_iter)
            )

    def state_dict(self):
        """With the inner trainer's state (the optimizer's momentum or Adam moments) as
        ``"_trainer"``, which detectron2 0.6 leaves out (a resumed run restarted them from
        zero) and later detectron2 saves the same way."""
        return {**TrainerBase.state_dict(self), "_trainer": self._trainer.state_dict()}

    def load_state_dict(self, state_dict):
        TrainerBase.load_state_dict(self, state_dict)
        if "_trainer" in state_dict:  # a checkpoint of detectron2 0.6's own trainer has none
            self._trainer.load_state_dict(state_dict["_trainer"])

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return build_evaluator(dataset_name, output_folder, cfg.TEST.DETECTIONS_PER_IMAGE)

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        """detectron2's evaluation, of the model as ``cfg.TEST`` asks it to run (sliding
        windows, test-time augmentation, the backend)."""
        runner = with_backend(
            cfg.TEST.BACKEND,
            model,
            with_test_options(cfg, model),
            calibration=lambda: cls.calibration_loader(cfg),
            float_layers=cfg.TEST.INT8.FLOAT_LAYERS,
        )
        return super().test(cfg, runner, evaluators)

    @classmethod
    def calibration_loader(cls, cfg):
        """The inputs that calibrate the int8 backend: TEST.INT8.CALIBRATION_IMAGES of the
        first training dataset's images, evenly spaced, as the test loader gives them."""
        if not cfg.DATASETS.TRAIN:
            raise ConfigError("TEST.BACKEND onnxruntime-int8 calibrates on DATASETS.TRAIN[0]")
        dataset = DatasetCatalog.get(cfg.DATASETS.TRAIN[0])
        loader = build_detection_test_loader(
            evenly_spaced(dataset, cfg.TEST.INT8.CALIBRATION_IMAGES),
            mapper=DatasetMapper(cfg, is_train=False),
        )
        return (item for batch in loader for item in batch)

    @classmethod
    def build_optimizer(cls, cfg, model):
        """detectron2's SGD, or AdamW on the same parameter groups (no decay on norms
        and biases where the config says so) with the same gradient clipping."""
        if cfg.SOLVER.OPTIMIZER == "SGD":
            return super().build_optimizer(cfg, model)
        if cfg.SOLVER.OPTIMIZER != "ADAMW":
            raise ValueError(
                f"SOLVER.OPTIMIZER must be one of {OPTIMIZERS}, not {cfg.SOLVER.OPTIMIZER!r}"
            )
        params = get_default_optimizer_params(
            model,
            base_lr=cfg.SOLVER.BASE_LR,
            weight_decay=cfg.SOLVER.WEIGHT_DECAY,
            weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
            bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
            weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
        )
        return maybe_add_gradient_clipping(cfg, torch.optim.AdamW)(params, lr=cfg.SOLVER.BASE_LR)

    def train(self):
        """Train, and return the last evaluation's results (DefaultTrainer returns
        them only when TEST.EXPECTED_RESULTS is set)."""
        try:
            with _told_errors_logged_without_traceback():
                super().train()
        except FloatingPointError as error:
            raise TrainingDivergedError(f"{error}\n{self._divergence_advice()}") from error
        except TrainingStoppedEarly:
            pass  # the last evaluation's results, as at the end of a full run
        return getattr(self, "_last_eval_results", None)

    def _divergence_advice(self):
        if self.checkpointer.has_checkpoint():
            kept = f"The last good checkpoint, {self.checkpointer.get_checkpoint_file()}, is intact"
        else:
            kept = "No checkpoint had been written yet"
        return (
            f"{kept}. Training diverged: lower SOLVER.BASE_LR, lengthen SOLVER.WARMUP_ITERS or set "
            "SOLVER.CLIP_GRADIENTS.ENABLED True, check the data (python -m seg_d2.data.validate), "
            "then restart, or continue with --resume from that checkpoint."
        )

    def build_writers(self):
        """detectron2's writers, TensorBoard's or the ``TRACKING.BACKEND``'s last."""
        return build_writers(self.cfg, self.max_iter)

    def build_hooks(self):
        """detectron2's hooks, then the best checkpoint's and early stopping's. With
        MODEL_EMA.ENABLED, the weights' average is updated first after each step, saved in
        every checkpoint and evaluated in the model's place."""
        cfg = self.cfg
        self.model_ema = ModelEMA.from_config(cfg, self.checkpointer.model)
        found = super().build_hooks()
        averaged = {}
        if self.model_ema is not None:
            averaged = {EMA_CHECKPOINT_KEY: self.model_ema.averaged}
            self.checkpointer.add_checkpointable(EMA_CHECKPOINT_KEY, self.model_ema.averaged)
            found = [self.model_ema] + [
                hooks.EvalHook(cfg.TEST.EVAL_PERIOD, self._test_averaged_weights)
                if isinstance(hook, hooks.EvalHook)
                else hook
                for hook in found
            ]
        return found + after_evaluation_hooks(
            self.checkpointer.model,
            cfg.OUTPUT_DIR,
            cfg.TEST.EVAL_PERIOD,
            cfg.TEST.BEST_CHECKPOINT_METRIC,
            cfg.SOLVER.PATIENCE,
            checkpointables=averaged,
        )

    def _test_averaged_weights(self):
        """DefaultTrainer's evaluation during training, of the weights' average."""
        with self.model_ema.weights_in(self.checkpointer.model):
            self._last_eval_results = self.test(self.cfg, self.model)
        return self._last_eval_results


def images_per_batch_part(cfg):
    """Images per loader batch, over all processes: ``SOLVER.IMS_PER_BATCH`` is the batch of
    one optimizer step, taken in ``SOLVER.ACCUMULATE_GRAD_STEPS`` parts, each split over
    the processes."""
    steps, total = cfg.SOLVER.ACCUMULATE_GRAD_STEPS, cfg.SOLVER.IMS_PER_BATCH
    world_size = comm.get_world_size()
    if steps < 1 or total % (steps * world_size):
        raise ConfigError(
            f"SOLVER.IMS_PER_BATCH {total} must be a multiple of SOLVER.ACCUMULATE_GRAD_STEPS "
            f"{steps} times the number of processes {world_size}"
        )
    return total // steps


class _WithoutTracebackOfToldErrors(logging.Filter):
    """A diverged loss, or one of seg_d2's errors (a checkpoint the disk had no room for),
    is told by the command's one message; its traceback in the log only hides that. An
    early stop is no error at all."""

    def filter(self, record):
        if record.exc_info and isinstance(record.exc_info[1], TrainingStoppedEarly):
            return False
        if record.exc_info and isinstance(record.exc_info[1], (FloatingPointError, SegD2Error)):
            record.exc_info = None
            record.msg = f"{record.msg} ({TRACEBACK_VARIABLE}=1 shows the traceback)"
        return True


@contextlib.contextmanager
def _told_errors_logged_without_traceback():
    """detectron2 logs a training error with its traceback before re-raising it; for a
    diverged loss or a SegD2Error that hides the message's advice under 40 lines, so the
    traceback is left out unless SEG_D2_TRACEBACK=1 asks for it."""
    logger = logging.getLogger("detectron2.engine.train_loop")
    quiet = _WithoutTracebackOfToldErrors()
    if os.environ.get(TRACEBACK_VARIABLE) != "1":
        logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def write_results(output_dir, results):
    """Write the evaluation results as ``OUTPUT_DIR/results.json``, whole or not at all."""
    if not comm.is_main_process() or not results:
        return None
    path = os.path.join(output_dir, RESULTS_FILE)
    os.makedirs(output_dir, exist_ok=True)
    write_text_atomically(path, json.dumps(_strict_json(results), indent=2, allow_nan=False))
    return path


def _strict_json(value):
    """``value`` with NaN and infinities (a metric of a class no image has) as null:
    JSON has no NaN, and strict parsers refuse the ``NaN`` Python writes."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(item) for item in value]
    return value
