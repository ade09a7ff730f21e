"""The one place that knows where detectron2 0.6, the only release PyPI carries,
falls short of what seg_d2 needs and of current Pillow, NumPy and setuptools.

Shims rather than version pins: seg_d2 runs inside its users' environments,
beside current libraries and beside detectron2 builds from source, so pinning
old Pillow/NumPy/setuptools would be forced on everyone to fix one old release.
Each fix below is applied only when its gap is present, and reaches only the
detectron2 modules that need it. (seg_d2's own environment pins numpy<2 because
panopticapi-lite requires it; the NumPy 2 fix serves users on NumPy 2.)

What importing it changes in detectron2, each only where the gap is present:
- ``detectron2._C``: a stand-in when detectron2 was installed without its compiled
  ops, so that detectron2 imports at all; an op then fails naming its feature.
- ``np`` of the 0.6 modules in ``_MODULES_USING_OLD_NUMPY``: NumPy with the aliases
  they use (those modules only).
- ``coco_evaluation.COCOeval_opt``: faster-coco-eval where the missing ``_C`` would
  make every COCOEvaluator's default fast path fail.
- nothing left behind from ``Image.LINEAR`` and ``pkg_resources``: each is lent for
  the one import of detectron2 that reads it.
- nothing: fvcore's losses and detectron2's box coder, which call ``torch.jit.script``
  when imported, are imported once with torch's FutureWarning about it silenced, so that
  no command starts with warnings about their code.
- ``detectron2.export``: without caffe2 (gone from PyTorch), its TracingAdapter and
  TorchScript helpers alone, as later detectron2 imports the caffe2 parts only when
  caffe2 is there (0.6 imports them first, and the package fails to import).
What seg_d2's own classes need from later detectron2 is a function here
(``reset_data_loader``, ``launch``) or a method of theirs, never a patch of detectron2's
classes; where detectron2 has no hook for what seg_d2 changes in its own classes, the
change is made here too (``with_names_rebound``, seg_d2's image reading in
DatasetMapper; ``set_up_like_default_trainer``, DefaultTrainer's set-up with seg_d2's
model wrapper, step and checkpointer).

Import this module before any other detectron2 module; ``import seg_d2`` does.
"""

import contextlib
import importlib
import importlib.resources
import importlib.util
import logging
import os
import sys
import types
import warnings

import detectron2
import numpy
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = [
    "HAS_COMPILED_OPS",
    "COMPILED_OPS_MISSING",
    "create_local_process_group",
    "launch",
    "reset_data_loader",
    "set_up_like_default_trainer",
    "share_cpu_among_workers",
    "with_names_rebound",
]

COMPILED_OPS_MISSING = "not built: this detectron2 has no compiled ops (seg_d2 stand-in)"

# detectron2._C entry points, by the feature a user would recognise.
_COMPILED_FEATURES = {
    "deform_conv": "deformable convolution",
    "modulated_deform_conv": "modulated deformable convolution",
    "roi_align_rotated": "rotated RoIAlign",
    "box_iou_rotated": "rotated boxes",
    "COCOeval": "detectron2's C++ COCO evaluator",
    "InstanceAnnotation": "detectron2's C++ COCO evaluator",
}

# detectron2 0.6 modules that use the NumPy aliases removed in NumPy 1.24
# (np.int, np.float, np.bool, np.str) or np.array(copy=False) (NumPy 2).
_MODULES_USING_OLD_NUMPY = (
    "detectron2.structures.masks",
    "detectron2.layers.mask_ops",
    "detectron2.data.build",
    "detectron2.data.datasets.pascal_voc",
    "detectron2.evaluation.sem_seg_evaluation",
    "detectron2.evaluation.pascal_voc_evaluation",
    "detectron2.utils.visualizer",
    "detectron2.utils.video_visualizer",
)


class _CompiledOpsStandIn(types.ModuleType):
    """Takes the place of a missing ``detectron2._C`` so that detectron2 imports;
    an op is only an error when it is called, and the error names the feature."""

    def __init__(self):
        super().__init__("detectron2._C", __doc__)

    @staticmethod
    def get_compiler_version():
        return COMPILED_OPS_MISSING

    @staticmethod
    def get_cuda_version():
        return COMPILED_OPS_MISSING

    @staticmethod
    def has_cuda():
        return False

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        feature = next(
            (feature for prefix, feature in _COMPILED_FEATURES.items() if name.startswith(prefix)),
            f"detectron2._C.{name}",
        )

        def missing_op(*args, **kwargs):
            raise RuntimeError(
                f"{feature} needs detectron2's compiled ops (detectron2._C.{name}), and this "
                "detectron2 was installed without them. Build detectron2 from source "
                "(see seg_d2's README, 'Using your own detectron2') to use it."
            )

        return missing_op


class _NumpyWithOldAliases(types.ModuleType):
    """numpy as detectron2 0.6 was written against: the removed scalar aliases,
    and ``array(copy=False)`` meaning "copy only if needed"."""

    int = int
    float = float
    bool = bool
    str = str

    def __init__(self):
        super().__init__("numpy")

    def __getattr__(self, name):
        return getattr(numpy, name)

    @staticmethod
    def array(obj, *args, copy=True, **kwargs):
        if copy is False:
            return numpy.asarray(obj, *args, **kwargs)
        return numpy.array(obj, *args, copy=copy, **kwargs)


def _resource_filename(package, resource):
    """``pkg_resources.resource_filename``, the one call detectron2.model_zoo makes."""
    return str(importlib.resources.files(package).joinpath(resource))


def _provide_compiled_ops_stand_in():
    if importlib.util.find_spec("detectron2._C") is not None:
        return True
    stand_in = _CompiledOpsStandIn()
    sys.modules["detectron2._C"] = stand_in
    detectron2._C = stand_in
    return False


@contextlib.contextmanager
def _without_jit_script_deprecation():
    """Current torch's FutureWarning about ``torch.jit.script`` silenced for the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`torch.jit.script` is deprecated", category=FutureWarning
        )
        yield


def _import_transforms_without_pillow_linear():
    """Pillow 10 removed ``Image.LINEAR``, which detectron2 0.6 reads once, as the
    default argument of ``ExtentTransform``; lend it for that import only."""
    from PIL import Image

    if hasattr(Image, "LINEAR"):
        return
    Image.LINEAR = Image.BILINEAR
    try:
        importlib.import_module("detectron2.data.transforms")
    finally:
        del Image.LINEAR


def _import_model_zoo_without_pkg_resources():
    """setuptools 81 removed ``pkg_resources``, which detectron2.model_zoo imports;
    give that import a stand-in and take it away again for everyone else."""
    if importlib.util.find_spec("pkg_resources") is not None:
        return
    stand_in = types.ModuleType("pkg_resources", "seg_d2 stand-in for detectron2.model_zoo")
    stand_in.resource_filename = _resource_filename
    sys.modules["pkg_resources"] = stand_in
    try:
        importlib.import_module("detectron2.model_zoo")
    finally:
        del sys.modules["pkg_resources"]


def _give_old_modules_old_numpy():
    if hasattr(numpy, "int") and numpy.lib.NumpyVersion(numpy.__version__) < "2.0.0":
        return
    if not detectron2.__version__.startswith("0.6"):
        return
    legacy = _NumpyWithOldAliases()
    for name in _MODULES_USING_OLD_NUMPY:
        importlib.import_module(name).np = legacy


def _evaluate_coco_with_faster_coco_eval():
    """Without ``_C``, detectron2's fast COCO evaluator cannot run; faster-coco-eval
    computes the same numbers with the same interface, so COCOEvaluator's default
    (``use_fast_impl=True``) keeps its speed."""
    from detectron2.evaluation import coco_evaluation
    from faster_coco_eval import COCOeval_faster

    coco_evaluation.COCOeval_opt = COCOeval_faster


def _import_export_without_caffe2():
    try:
        importlib.import_module("detectron2.export")
        return
    except ModuleNotFoundError as error:
        if error.name != "caffe2":
            raise
    package = importlib.util.module_from_spec(importlib.util.find_spec("detectron2.export"))
    sys.modules["detectron2.export"] = detectron2.export = package
    flatten = importlib.import_module("detectron2.export.flatten")
    torchscript = importlib.import_module("detectron2.export.torchscript")
    package.TracingAdapter = flatten.TracingAdapter
    package.dump_torchscript_IR = torchscript.dump_torchscript_IR
    package.scripting_with_instances = torchscript.scripting_with_instances
    package.__all__ = ["TracingAdapter", "dump_torchscript_IR", "scripting_with_instances"]


def with_names_rebound(function, **names):
    """``function`` (one of detectron2's) run with some of its module's global names bound
    to other objects, for seg_d2's callers only: every detectron2 version so far
    (0.6 to today) gives no hook for what these names do (DatasetMapper reads images
    through its module's ``utils.read_image``). A name the function no longer uses is
    an error at import, not a silent change of nothing."""
    unused = sorted(set(names) - set(function.__code__.co_names))
    if unused:
        raise ImportError(
            f"{function.__qualname__} of this detectron2 no longer uses {', '.join(unused)}: "
            "seg_d2.compat.with_names_rebound needs updating for it"
        )
    return types.FunctionType(
        function.__code__,
        {**function.__globals__, **names},
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )


def set_up_like_default_trainer(trainer, cfg, *, wrap_model, build_step, build_checkpointer):
    """``DefaultTrainer.__init__`` (detectron2 0.6 to today) on ``trainer``, with three
    choices it makes inline given to the caller, as detectron2 has no hook for them:
    ``wrap_model(model)`` for several processes (its ``create_ddp_model`` fails for a
    model on the CPU), ``build_step(model, data_loader, optimizer, cfg)`` for the inner
    trainer (it picks SimpleTrainer or AMPTrainer) and ``build_checkpointer(model,
    output_dir, trainer)``. Everything else is detectron2's, through ``trainer``'s own
    build methods; a test compares the result with DefaultTrainer's."""
    from detectron2.engine import DefaultTrainer
    from detectron2.engine.train_loop import TrainerBase
    from detectron2.utils import comm
    from detectron2.utils.logger import setup_logger

    TrainerBase.__init__(trainer)
    if not logging.getLogger("detectron2").isEnabledFor(logging.INFO):
        setup_logger()
    cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())
    model = trainer.build_model(cfg)
    optimizer = trainer.build_optimizer(cfg, model)
    data_loader = trainer.build_train_loader(cfg)
    model = wrap_model(model)
    trainer._trainer = build_step(model, data_loader, optimizer, cfg)
    trainer.scheduler = trainer.build_lr_scheduler(cfg, optimizer)
    trainer.checkpointer = build_checkpointer(model, cfg.OUTPUT_DIR, trainer)
    trainer.start_iter = 0
    trainer.max_iter = cfg.SOLVER.MAX_ITER
    trainer.cfg = cfg
    trainer.register_hooks(trainer.build_hooks())


def reset_data_loader(trainer, data_loader_builder):
    """``SimpleTrainer.reset_data_loader`` (detectron2 after 0.6), which seg_d2's Trainer
    uses to continue the data stream on ``--resume``; in 0.6, where the trainer keeps the
    iterator in a plain attribute created up front, the same done from outside."""
    if hasattr(trainer, "reset_data_loader"):
        trainer.reset_data_loader(data_loader_builder)
        return
    del trainer.data_loader
    trainer.data_loader = data_loader_builder()
    trainer._data_loader_iter = iter(trainer.data_loader)


def _workers_need_cuda():
    """Whether detectron2's launch workers need CUDA. detectron2 0.6 (the PyPI sdist)'s
    assert it and join with NCCL; detectron2 built from source since 2022 joins with gloo
    without a GPU, in the same change that gave ``comm`` its
    ``create_local_process_group`` (which its workers call): that function tells them
    apart, as the version cannot (both say 0.6)."""
    from detectron2.utils import comm

    return not hasattr(comm, "create_local_process_group")


def _distributed_worker_on_cpu_or_gpu(
    local_rank, main_func, world_size, workers_per_machine, machine_rank, dist_url, args, timeout
):
    """Later detectron2's ``_distributed_worker``: NCCL and one GPU per process where there
    are GPUs, gloo on the CPU otherwise (each process with its share of the cores)."""
    from detectron2.utils import comm

    has_gpu = torch.cuda.is_available()
    if has_gpu:
        assert workers_per_machine <= torch.cuda.device_count()
    else:
        share_cpu_among_workers(workers_per_machine)
    global_rank = machine_rank * workers_per_machine + local_rank
    try:
        dist.init_process_group(
            backend="NCCL" if has_gpu else "GLOO",
            init_method=dist_url,
            world_size=world_size,
            rank=global_rank,
            timeout=timeout,
        )
    except Exception:
        logging.getLogger(__name__).error("Process group URL: %s", dist_url)
        raise
    create_local_process_group(workers_per_machine)
    if has_gpu:
        torch.cuda.set_device(local_rank)
    comm.synchronize()
    main_func(*args)


def share_cpu_among_workers(workers_per_machine):
    """On the CPU each of a machine's processes gets an equal share of its cores (torch would
    give each all of them) unless OMP_NUM_THREADS says otherwise."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers_per_machine))


def create_local_process_group(workers_per_machine):
    """later detectron2's ``comm.create_local_process_group``: the group of this machine's
    processes, which ``comm.get_local_rank`` and ``get_local_size`` read. Every process
    calls it (each group is created by all); machines hold equal numbers of processes."""
    from detectron2.utils import comm

    if hasattr(comm, "create_local_process_group"):
        comm.create_local_process_group(workers_per_machine)
        return
    machine_rank = dist.get_rank() // workers_per_machine
    for machine in range(dist.get_world_size() // workers_per_machine):
        ranks = list(range(machine * workers_per_machine, (machine + 1) * workers_per_machine))
        group = dist.new_group(ranks)
        if machine == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group


def launch(
    main_func,
    num_gpus_per_machine,
    num_machines=1,
    machine_rank=0,
    dist_url=None,
    args=(),
    timeout=None,
):
    """detectron2's ``launch``: ``num_gpus_per_machine`` processes on this machine, on its
    GPUs or, without one, on its CPU (gloo), as later detectron2 does. Where the installed
    detectron2's workers need CUDA (0.6), its launcher's spawn runs later detectron2's
    worker instead; nothing of detectron2 changes. ``timeout``: detectron2's default
    when None."""
    launch_module = importlib.import_module("detectron2.engine.launch")
    timeout = launch_module.DEFAULT_TIMEOUT if timeout is None else timeout
    if not _workers_need_cuda():
        return launch_module.launch(
            main_func, num_gpus_per_machine, num_machines, machine_rank, dist_url, args, timeout
        )
    world_size = num_machines * num_gpus_per_machine
    if world_size == 1:
        return main_func(*args)
    if dist_url == "auto":
        if num_machines > 1:
            raise ValueError("dist_url=auto finds a free port on this machine: one machine only")
        dist_url = f"tcp://127.0.0.1:{launch_module._find_free_port()}"
    spawn_args = (
        main_func,
        world_size,
        num_gpus_per_machine,
        machine_rank,
        dist_url,
        args,
        timeout,
    )
    return mp.spawn(
        _distributed_worker_on_cpu_or_gpu,
        nprocs=num_gpus_per_machine,
        args=spawn_args,
        daemon=False,
    )


HAS_COMPILED_OPS = _provide_compiled_ops_stand_in()
with _without_jit_script_deprecation():
    _import_transforms_without_pillow_linear()  # imports fvcore.nn, which scripts its losses
    importlib.import_module("detectron2.modeling.box_regression")  # scripts its box coder
_import_model_zoo_without_pkg_resources()
_give_old_modules_old_numpy()
_import_export_without_caffe2()
if not HAS_COMPILED_OPS:
    _evaluate_coco_with_faster_coco_eval()
