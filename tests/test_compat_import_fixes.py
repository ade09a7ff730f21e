"""seg_d2.compat's fixes that run once, when seg_d2 is imported, called again here one by
one with what they read replaced, so that what each does (and does not do) is seen."""

import importlib
import sys
import types
import warnings

import seg_d2  # noqa: F401
from seg_d2 import compat

import detectron2
import numpy
import pytest
from PIL import Image


def _recording_imports(monkeypatch):
    """importlib.import_module, recorded instead of run, with what is lent at each import."""
    imported = []
    monkeypatch.setattr(
        compat.importlib,
        "import_module",
        lambda name: (
            imported.append((name, hasattr(Image, "LINEAR"), sys.modules.get("pkg_resources")))
            or types.ModuleType(name)
        ),
    )
    return imported


def test_compiled_ops_stand_in_only_where_detectron2_has_none(monkeypatch):
    monkeypatch.delitem(sys.modules, "detectron2._C", raising=False)
    monkeypatch.delattr(detectron2, "_C", raising=False)
    monkeypatch.setattr(compat.importlib.util, "find_spec", lambda name: None)
    assert compat._provide_compiled_ops_stand_in() is False
    stand_in = sys.modules["detectron2._C"]
    assert isinstance(stand_in, compat._CompiledOpsStandIn) and detectron2._C is stand_in
    assert stand_in.get_compiler_version() == stand_in.get_cuda_version()
    assert stand_in.get_compiler_version() == compat.COMPILED_OPS_MISSING
    assert stand_in.has_cuda() is False
    with pytest.raises(AttributeError):
        stand_in.__wrapped__  # noqa: B018 (dunder lookups are not ops)
    with pytest.raises(RuntimeError, match=r"^detectron2._C.no_such_op needs detectron2's"):
        stand_in.no_such_op()
    with pytest.raises(RuntimeError, match=r"^detectron2's C\+\+ COCO evaluator needs"):
        stand_in.COCOevalEvaluateImages()
    monkeypatch.delitem(sys.modules, "detectron2._C")
    monkeypatch.setattr(compat.importlib.util, "find_spec", lambda name: object())
    assert compat._provide_compiled_ops_stand_in() is True
    assert "detectron2._C" not in sys.modules


def test_image_linear_is_lent_for_the_transforms_import_only(monkeypatch):
    imported = _recording_imports(monkeypatch)
    compat._import_transforms_without_pillow_linear()
    assert [(name, lent) for name, lent, _ in imported] == [("detectron2.data.transforms", True)]
    assert not hasattr(Image, "LINEAR")
    monkeypatch.setattr(Image, "LINEAR", Image.BILINEAR, raising=False)  # an older Pillow
    compat._import_transforms_without_pillow_linear()
    assert len(imported) == 1 and Image.LINEAR == Image.BILINEAR


def test_pkg_resources_is_lent_for_the_model_zoo_import_only(monkeypatch):
    imported = _recording_imports(monkeypatch)
    real_find_spec = compat.importlib.util.find_spec
    monkeypatch.setattr(
        compat.importlib.util,
        "find_spec",
        lambda name: None if name == "pkg_resources" else real_find_spec(name),
    )
    compat._import_model_zoo_without_pkg_resources()
    ((name, _, lent),) = imported
    assert name == "detectron2.model_zoo" and "pkg_resources" not in sys.modules
    assert lent.resource_filename is compat._resource_filename
    monkeypatch.setattr(compat.importlib.util, "find_spec", lambda name: object())
    compat._import_model_zoo_without_pkg_resources()
    assert len(imported) == 1


def test_resource_filename_is_the_packages_file():
    path = compat._resource_filename("detectron2.model_zoo", "configs/Base-RCNN-FPN.yaml")
    assert path.endswith("detectron2/model_zoo/configs/Base-RCNN-FPN.yaml")


def test_old_numpy_is_given_to_detectron2_06_on_numpy_without_the_aliases(monkeypatch):
    imported = _recording_imports(monkeypatch)
    compat._give_old_modules_old_numpy()
    assert [name for name, _, _ in imported] == list(compat._MODULES_USING_OLD_NUMPY)
    monkeypatch.setattr(detectron2, "__version__", "0.7")
    compat._give_old_modules_old_numpy()
    assert len(imported) == len(compat._MODULES_USING_OLD_NUMPY)  # a later detectron2: none


def test_old_numpy_modules_get_the_aliases(monkeypatch):
    module = types.ModuleType("detectron2.structures.masks")
    monkeypatch.setattr(compat.importlib, "import_module", lambda name: module)
    compat._give_old_modules_old_numpy()
    assert isinstance(module.np, compat._NumpyWithOldAliases)
    assert module.np.int is int and module.np.float is float and module.np.zeros is numpy.zeros


def test_numpy_with_its_aliases_is_left_alone(monkeypatch):
    imported = _recording_imports(monkeypatch)
    monkeypatch.setattr(numpy, "int", int, raising=False)
    monkeypatch.setattr(numpy, "__version__", "1.23.5")
    compat._give_old_modules_old_numpy()
    assert imported == []


def test_coco_evaluation_without_compiled_ops_uses_faster_coco_eval(monkeypatch):
    from detectron2.evaluation import coco_evaluation
    from faster_coco_eval import COCOeval_faster

    monkeypatch.setattr(coco_evaluation, "COCOeval_opt", None)
    compat._evaluate_coco_with_faster_coco_eval()
    assert coco_evaluation.COCOeval_opt is COCOeval_faster


def test_export_without_caffe2_is_its_tracing_and_torchscript_parts(monkeypatch):
    monkeypatch.delitem(sys.modules, "detectron2.export")
    compat._import_export_without_caffe2()
    export = sys.modules["detectron2.export"]
    flatten = importlib.import_module("detectron2.export.flatten")
    torchscript = importlib.import_module("detectron2.export.torchscript")
    assert export.__all__ == ["TracingAdapter", "dump_torchscript_IR", "scripting_with_instances"]
    assert export.TracingAdapter is flatten.TracingAdapter
    assert export.dump_torchscript_IR is torchscript.dump_torchscript_IR
    assert export.scripting_with_instances is torchscript.scripting_with_instances


def test_only_torchs_jit_script_warning_is_silenced():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with compat._without_jit_script_deprecation():
            warnings.warn("`torch.jit.script` is deprecated", FutureWarning)
            warnings.warn("`torch.jit.script` is deprecated", UserWarning)
            warnings.warn("something else", FutureWarning)
    assert [(type(w.message), str(w.message)) for w in caught] == [
        (UserWarning, "`torch.jit.script` is deprecated"),
        (FutureWarning, "something else"),
    ]
