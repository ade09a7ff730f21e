"""Each gap between detectron2 0.6 and current libraries is closed by seg_d2.compat."""

import builtins
import importlib
import importlib.util
import types

import seg_d2  # noqa: F401
from seg_d2 import compat

import numpy as np
import pytest
import torch

OLD_ALIASES = ("int", "float", "bool", "str")


def test_data_transforms_import_and_extent_transform_runs():
    from detectron2.data import transforms as T

    image = np.arange(12 * 16 * 3, dtype=np.uint8).reshape(12, 16, 3)
    out = T.ExtentTransform(src_rect=(0, 0, 16, 12), output_size=(6, 8)).apply_image(image)
    assert out.shape == (6, 8, 3)


def test_pillow_linear_is_not_left_behind():
    import PIL
    from PIL import Image

    if int(PIL.__version__.split(".")[0]) >= 10:  # Pillow itself has no LINEAR any more
        assert not hasattr(Image, "LINEAR")


def test_model_zoo_config_file_resolves():
    import os

    from detectron2 import model_zoo

    path = model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml")
    assert os.path.isfile(path)
    assert "Base-RCNN-FPN.yaml" in open(path).read()


def test_detectron2_export_imports_its_tracing_without_caffe2():
    import importlib.util
    import sys

    from detectron2.export import TracingAdapter, dump_torchscript_IR

    assert TracingAdapter.__module__ == "detectron2.export.flatten"
    assert callable(dump_torchscript_IR)
    if importlib.util.find_spec("caffe2") is None:  # the caffe2 parts are left out, not faked
        assert "detectron2.export.api" not in sys.modules
        assert not any(name.startswith("caffe2") for name in sys.modules)


def test_sem_seg_evaluator_on_a_tiny_confusion_matrix(tmp_path):
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.evaluation import SemSegEvaluator
    from PIL import Image

    gt = np.array([[0, 0, 1], [1, 1, 255]], dtype=np.uint8)
    pred = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.int64)
    gt_file = tmp_path / "gt.png"
    Image.fromarray(gt).save(gt_file)
    name = "compat_tiny_sem_seg"
    DatasetCatalog.register(
        name, lambda: [{"file_name": "x.jpg", "sem_seg_file_name": str(gt_file)}]
    )
    MetadataCatalog.get(name).set(stuff_classes=["a", "b"], ignore_label=255)
    try:
        evaluator = SemSegEvaluator(name, distributed=False)
        evaluator.reset()
        evaluator.process(
            [{"file_name": "x.jpg"}],
            [
                {
                    "sem_seg": torch.nn.functional.one_hot(torch.from_numpy(pred), 2)
                    .permute(2, 0, 1)
                    .float()
                }
            ],
        )
        result = evaluator.evaluate()["sem_seg"]
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    # pixels (gt, pred): (0,0) (0,1) (1,1) (1,1) (1,0); the ignore pixel is dropped.
    iou_a, iou_b = 1 / 3, 2 / 4
    assert result["IoU-a"] == pytest.approx(100 * iou_a)
    assert result["IoU-b"] == pytest.approx(100 * iou_b)
    assert result["mIoU"] == pytest.approx(100 * (iou_a + iou_b) / 2)
    assert result["pACC"] == pytest.approx(100 * 3 / 5)


def test_bitmasks_polygonmasks_round_trip():
    from detectron2.structures import BitMasks, PolygonMasks, polygons_to_bitmask

    square = [np.array([2, 2, 8, 2, 8, 6, 2, 6], dtype=np.float64)]
    expected = polygons_to_bitmask(square, 10, 12)
    assert expected.dtype == bool and expected.sum() == 6 * 4
    polygons = PolygonMasks([square])
    bitmasks = BitMasks.from_polygon_masks(polygons, 10, 12)
    assert torch.equal(bitmasks.tensor[0], torch.from_numpy(expected))
    boxes = torch.tensor([[2.0, 2.0, 8.0, 6.0]])
    from_polygons = polygons.crop_and_resize(boxes, 4)
    from_bitmasks = bitmasks.crop_and_resize(boxes, 4)
    assert from_polygons.all() and from_bitmasks.all()
    assert polygons.nonempty().tolist() == [True]


def test_legacy_paste_mask_runs_on_current_numpy():
    from detectron2.layers.mask_ops import paste_mask_in_image_old

    pasted = paste_mask_in_image_old(torch.ones(4, 4), torch.tensor([1, 1, 4, 4]), 6, 6, 0.5)
    assert pasted.sum() == 16


def test_old_numpy_reaches_only_detectron2():
    from detectron2.evaluation import sem_seg_evaluation

    assert sem_seg_evaluation.np.int is int and sem_seg_evaluation.np.float is float
    # NumPy itself keeps its own: none of Python's types leaks into it (NumPy 2 has a
    # numpy.bool of its own; NumPy >= 1.24 has no int, float or str)
    assert not any(getattr(np, alias, None) is getattr(builtins, alias) for alias in OLD_ALIASES)


def test_detectron2s_class_histogram_runs_on_current_numpy():
    """detectron2.data.build counts classes with np.int; detectron2 calls it inside a
    try that would hide the error, so it is called here directly."""
    from detectron2.data.build import print_instances_class_histogram

    records = [{"annotations": [{"category_id": 0}, {"category_id": 1}, {"category_id": 1}]}]
    print_instances_class_histogram(records, ["a", "b"])


def test_array_copy_false_means_copy_if_needed_as_numpy_1_did(monkeypatch):
    """NumPy 2's array(copy=False) raises where a copy is needed; detectron2 0.6 passes
    copy=False meaning "only if needed". Emulate NumPy 2's array and check the shim."""

    def numpy_2_array(obj, *args, copy=True, **kwargs):
        if copy is False and not isinstance(obj, np.ndarray):
            raise ValueError("Unable to avoid copy while creating an array as requested.")
        return (
            np.asarray(obj, *args, **kwargs)
            if copy is False
            else np.asarray(obj, *args, **kwargs).copy()
        )

    monkeypatch.setattr(
        compat,
        "numpy",
        type(
            "numpy_2",
            (),
            {"array": staticmethod(numpy_2_array), "asarray": staticmethod(np.asarray)},
        ),
    )
    legacy = compat._NumpyWithOldAliases()
    assert legacy.array([1, 2], copy=False).tolist() == [1, 2]
    existing = np.arange(3)
    assert legacy.array(existing, copy=False) is existing
    assert legacy.array(existing) is not existing


@pytest.mark.skipif(compat.HAS_COMPILED_OPS, reason="detectron2 here has its compiled ops")
def test_missing_compiled_ops_raise_a_clear_error():
    import detectron2
    from detectron2.layers import ROIAlignRotated
    from detectron2.structures import RotatedBoxes, pairwise_iou_rotated

    x = torch.zeros(1, 2, 8, 8)
    # On the CPU detectron2 itself refuses deformable convolution; on a GPU it calls _C.
    with pytest.raises(RuntimeError, match="modulated deformable convolution.*compiled ops"):
        detectron2._C.modulated_deform_conv_forward()
    with pytest.raises(RuntimeError, match="rotated RoIAlign.*compiled ops"):
        ROIAlignRotated((2, 2), 1.0, 0)(x, torch.tensor([[0.0, 4.0, 4.0, 2.0, 2.0, 0.0]]))
    boxes = RotatedBoxes(torch.tensor([[4.0, 4.0, 2.0, 2.0, 30.0]]))
    with pytest.raises(RuntimeError, match="rotated boxes.*compiled ops"):
        pairwise_iou_rotated(boxes, boxes)
    if compat.HAS_COMPILED_OPS:
        return
    with pytest.raises(RuntimeError) as error:
        detectron2._C.some_future_op()
    assert str(error.value) == (
        "detectron2._C.some_future_op needs detectron2's compiled ops "
        "(detectron2._C.some_future_op), and this detectron2 was installed without them. "
        "Build detectron2 from source (see seg_d2's README, 'Using your own detectron2') "
        "to use it."
    )
    with pytest.raises(AttributeError, match="^__wrapped__$"):
        detectron2._C.__wrapped__  # dunder names are not ops: inspect and pickle ask for them


def test_roi_align_matches_torchvision():
    from detectron2.layers import ROIAlign
    from torchvision.ops import roi_align

    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 20, 24, generator=generator)
    xy = torch.rand(6, 2, generator=generator) * 12
    wh = torch.rand(6, 2, generator=generator) * 10 + 1
    rois = torch.cat([torch.tensor([0, 1, 0, 1, 1, 0.0])[:, None], xy, xy + wh], dim=1)
    ours = ROIAlign((7, 7), spatial_scale=0.5, sampling_ratio=2, aligned=True)(features, rois)
    reference = roi_align(features, rois, (7, 7), spatial_scale=0.5, sampling_ratio=2, aligned=True)
    assert torch.allclose(ours, reference, atol=1e-6)


def test_trainer_checkpoints_its_optimizer_and_can_swap_its_data_loader(tiny_val, tmp_path):
    from seg_d2.config_setup import setup_config
    from seg_d2.engine import Trainer

    from helpers import REPO

    cfg = setup_config(
        f"{REPO}/configs/shapes/unet.yaml",
        [
            "DATASETS.TRAIN",
            f"('{tiny_val}_sem_seg',)",
            "MODEL.UNET.DEPTH",
            "2",
            "OUTPUT_DIR",
            str(tmp_path),
            "DATALOADER.NUM_WORKERS",
            "0",
        ],
    )
    trainer = Trainer(cfg)
    for parameter in trainer.model.parameters():
        parameter.grad = torch.ones_like(parameter)
    trainer.optimizer.step()  # AdamW's moments are now non-zero
    state = trainer.state_dict()
    assert "optimizer" in state["_trainer"]

    fresh = Trainer(cfg)
    fresh.load_state_dict(state)
    moments = [fresh.optimizer.state[p]["exp_avg"] for p in fresh.model.parameters()]
    assert moments and all(
        torch.equal(m, trainer.optimizer.state[p]["exp_avg"])
        for m, p in zip(moments, trainer.model.parameters())
    )
    fresh.load_state_dict({"iteration": 3})  # a checkpoint of detectron2 0.6 itself still loads
    assert fresh.iter == 3

    compat.reset_data_loader(fresh._trainer, lambda: ["a batch"])
    assert fresh._trainer.data_loader == ["a batch"]
    assert next(fresh._trainer._data_loader_iter) == "a batch"


def test_detectron2s_trainers_are_untouched_by_importing_seg_d2():
    from detectron2.engine import DefaultTrainer, SimpleTrainer

    for method in (
        DefaultTrainer.state_dict,
        DefaultTrainer.load_state_dict,
        getattr(SimpleTrainer, "reset_data_loader", SimpleTrainer.run_step),
    ):
        assert method.__module__.startswith("detectron2."), method


def test_detectron2_06s_workers_need_cuda_so_the_shim_is_still_needed():
    """0.6's worker asserts CUDA before anything else: on a machine without it, it fails
    at once; seg_d2 tells such a detectron2 by the comm function later ones have."""
    launch_module = importlib.import_module("detectron2.engine.launch")
    assert compat._workers_need_cuda()
    if not torch.cuda.is_available():
        with pytest.raises(AssertionError, match="cuda is not available"):
            launch_module._distributed_worker(0, print, 2, 2, 0, "tcp://127.0.0.1:1", ())


def test_launch_spawns_later_workers_without_changing_detectron2(monkeypatch):
    launch_module = importlib.import_module("detectron2.engine.launch")
    original = launch_module._distributed_worker
    seen = []

    def spawn(worker, nprocs, args, daemon):
        seen.append((worker, nprocs, args[1:5], args[6], daemon))
        raise RuntimeError("a worker failed")

    monkeypatch.setattr(compat.mp, "spawn", spawn)
    with pytest.raises(RuntimeError, match="a worker failed"):
        compat.launch(print, 2, num_machines=1, machine_rank=0, dist_url="tcp://127.0.0.1:1")
    worker = compat._distributed_worker_on_cpu_or_gpu
    expected = (worker, 2, (2, 2, 0, "tcp://127.0.0.1:1"), launch_module.DEFAULT_TIMEOUT, False)
    assert seen == [expected]
    assert launch_module._distributed_worker is original
    monkeypatch.setattr(launch_module, "_find_free_port", lambda: 4321)
    with pytest.raises(RuntimeError):
        compat.launch(print, 3, dist_url="auto", timeout=7)
    assert seen[-1] == (worker, 3, (3, 3, 0, "tcp://127.0.0.1:4321"), 7, False)
    with pytest.raises(ValueError, match="one machine only"):
        compat.launch(print, 2, num_machines=2, dist_url="auto")
    # One process: the function runs here.
    calls = []
    assert compat.launch(calls.append, 1, args=("ran",)) is None and calls == ["ran"]


def test_later_detectron2s_launch_is_used_as_it_is(monkeypatch):
    from detectron2.utils import comm

    launch_module = importlib.import_module("detectron2.engine.launch")
    monkeypatch.setattr(comm, "create_local_process_group", print, raising=False)
    monkeypatch.setattr(launch_module, "launch", lambda *a: ("later", *a))
    assert not compat._workers_need_cuda()
    assert compat.launch(print, 2, dist_url="auto") == (
        "later",
        print,
        2,
        1,
        0,
        "auto",
        (),
        launch_module.DEFAULT_TIMEOUT,
    )


def _mean_twice(values):
    return np.mean(values) * 2


def _scaled_mean(scale):
    def scaled(values, offset=1):
        return np.mean(values) * scale + offset

    return scaled


def test_names_rebound_for_one_function_only_and_refused_when_it_no_longer_uses_them():
    rebound = compat.with_names_rebound(_mean_twice, np=types.SimpleNamespace(mean=max))
    assert rebound([1, 5]) == 10 and _mean_twice([1, 5]) == 6
    with pytest.raises(
        ImportError,
        match=r"^_mean_twice of this detectron2 no longer uses np2, torch: "
        r"seg_d2.compat.with_names_rebound needs updating for it$",
    ):
        compat.with_names_rebound(_mean_twice, torch=None, np2=None)
    # its name, default arguments and closure kept
    scaled = compat.with_names_rebound(_scaled_mean(3), np=types.SimpleNamespace(mean=max))
    assert scaled.__name__ == "scaled" and scaled([1, 5]) == 16 and scaled([1, 5], 0) == 15


def test_a_cpu_worker_joins_its_gloo_group_then_runs_the_function(tmp_path, monkeypatch):
    from datetime import timedelta

    import torch.distributed as dist
    from detectron2.utils import comm

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(compat.os, "cpu_count", lambda: 6)
    monkeypatch.setattr(comm, "_LOCAL_PROCESS_GROUP", None, raising=False)
    threads, seen = torch.get_num_threads(), []

    def job(word):
        seen.append((word, dist.get_backend(), comm.get_world_size(), comm.get_rank()))
        seen.append((comm.get_local_size(), comm.get_local_rank(), torch.get_num_threads()))

    store = f"file://{tmp_path / 'store'}"
    try:
        compat._distributed_worker_on_cpu_or_gpu(
            0, job, 1, 1, 0, store, ("ran",), timedelta(seconds=60)
        )
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        torch.set_num_threads(threads)
    assert seen == [("ran", "gloo", 1, 0), (1, 0, 6)]


def test_each_worker_on_a_cpu_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(compat.os, "cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    threads = torch.get_num_threads()
    try:
        compat.share_cpu_among_workers(3)
        assert torch.get_num_threads() == 2
        compat.share_cpu_among_workers(16)
        assert torch.get_num_threads() == 1  # never none
        monkeypatch.setenv("OMP_NUM_THREADS", "5")
        torch.set_num_threads(3)
        compat.share_cpu_among_workers(2)
        assert torch.get_num_threads() == 3  # the user's choice stands
    finally:
        torch.set_num_threads(threads)


def test_each_machines_processes_form_its_local_group(monkeypatch):
    import torch.distributed as dist
    from detectron2.utils import comm

    if hasattr(comm, "create_local_process_group"):
        pytest.skip("detectron2 makes the local group itself")
    created = []
    monkeypatch.setattr(dist, "get_rank", lambda: 3)
    monkeypatch.setattr(dist, "get_world_size", lambda: 6)
    monkeypatch.setattr(dist, "new_group", lambda ranks: created.append(ranks) or tuple(ranks))
    monkeypatch.setattr(comm, "_LOCAL_PROCESS_GROUP", None)
    compat.create_local_process_group(2)
    assert created == [[0, 1], [2, 3], [4, 5]]  # every process creates every group
    assert comm._LOCAL_PROCESS_GROUP == (2, 3)


@pytest.mark.parametrize("has_gpu", [False, True])
def test_a_worker_joins_by_its_global_rank_on_nccl_or_gloo_then_runs(monkeypatch, has_gpu):
    from datetime import timedelta

    from detectron2.utils import comm

    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_gpu)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)  # as many as the workers
    monkeypatch.setattr(torch.cuda, "set_device", lambda rank: calls.append(("device", rank)))
    monkeypatch.setattr(compat.dist, "init_process_group", lambda **kw: calls.append(kw))
    monkeypatch.setattr(compat, "create_local_process_group", lambda n: calls.append(("local", n)))
    monkeypatch.setattr(compat, "share_cpu_among_workers", lambda n: calls.append(("cores", n)))
    monkeypatch.setattr(comm, "synchronize", lambda: calls.append("synchronized"))
    timeout = timedelta(seconds=7)
    compat._distributed_worker_on_cpu_or_gpu(
        2, lambda *args: calls.append(args), 6, 3, 1, "tcp://h:1", ("ran",), timeout
    )
    joined = {
        "backend": "NCCL" if has_gpu else "GLOO",
        "init_method": "tcp://h:1",
        "world_size": 6,
        "rank": 5,  # machine 1 of 3 processes each, its third
        "timeout": timeout,
    }
    first = [("device", 2)] if has_gpu else []
    assert calls == ([] if has_gpu else [("cores", 3)]) + [joined, ("local", 3)] + first + [
        "synchronized",
        ("ran",),
    ]


def test_a_worker_that_cannot_join_names_the_url_and_fails(monkeypatch, caplog):
    from datetime import timedelta

    def refused(**kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(compat, "share_cpu_among_workers", lambda n: None)
    monkeypatch.setattr(compat.dist, "init_process_group", refused)
    with pytest.raises(RuntimeError, match="connection refused"):
        compat._distributed_worker_on_cpu_or_gpu(
            0, print, 1, 1, 0, "tcp://h:1", (), timedelta(seconds=1)
        )
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("seg_d2.compat", "ERROR", "Process group URL: tcp://h:1")
    ]


def test_a_later_detectron2s_own_loader_swap_and_local_group_are_used(monkeypatch):
    from detectron2.utils import comm

    calls = []

    class LaterTrainer:
        def reset_data_loader(self, builder):
            calls.append(("reset", builder))

    def builder():
        return ["a batch"]

    compat.reset_data_loader(LaterTrainer(), builder)
    monkeypatch.setattr(
        comm, "create_local_process_group", lambda n: calls.append(("local", n)), raising=False
    )
    compat.create_local_process_group(4)  # no process group here: only the later one can run
    assert calls == [("reset", builder), ("local", 4)]
