"""seg_d2's modules import one another in one direction: no cycle, and the config keys
(seg_d2/config.py) apart from reading and setting up configs (seg_d2/config_setup.py)."""

import ast
import graphlib
import os

import pytest
from helpers import REPO

PACKAGE = os.path.join(REPO, "seg_d2")


def _modules():
    """{dotted name: path} of seg_d2's modules (a package by its own name)."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path[:-3], REPO).replace(os.sep, ".")
                modules[dotted.removesuffix(".__init__")] = path
    return modules


def _imported(module, path, modules):
    """The seg_d2 modules ``module`` imports when it is imported (its top-level imports)."""
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:  # relative: from the package, one level up per extra dot
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.add(name if name in modules else base)
    return {name for name in found if name in modules and name != module}


def import_graph():
    modules = _modules()
    return {module: _imported(module, path, modules) for module, path in modules.items()}


def test_the_graph_is_read_from_every_kind_of_import():
    graph = import_graph()
    assert "seg_d2.config_setup" in graph["seg_d2.engine.run_folder"]  # from ..config_setup
    assert "seg_d2.data.coco" in graph["seg_d2.config_setup"]  # from .data.coco
    assert "seg_d2.errors" in graph["seg_d2.data.coco"]  # from ..errors
    assert "seg_d2.modeling" in graph["seg_d2"]  # from . import (... modeling ...)


def test_no_module_imports_one_that_imports_it_back():
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"an import cycle: {' -> '.join(error.args[1])}")


def test_config_keys_import_nothing_of_seg_d2_and_set_up_reads_only_data_and_errors():
    graph = import_graph()
    assert graph["seg_d2.config"] == set()
    assert graph["seg_d2.config_setup"] == {
        "seg_d2.config",
        "seg_d2.data.class_weights",
        "seg_d2.data.coco",
        "seg_d2.errors",
    }
