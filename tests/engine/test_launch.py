"""seg_d2's launch: each process waits for the others, then leaves its process group
before it exits (a gloo group alive at exit can abort the process)."""

import importlib

import torch.distributed as dist

launch_module = importlib.import_module("seg_d2.engine.launch")


def test_the_group_is_left_after_the_main_function_after_the_others_are_waited_for(
    single_process_group, monkeypatch
):
    calls = []
    monkeypatch.setattr(launch_module.comm, "synchronize", lambda: calls.append("wait"))
    destroy = dist.destroy_process_group
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append("leave") or destroy())

    def main(value):
        calls.append(("main", dist.is_initialized()))
        return value * 2

    assert launch_module.leave_process_group_after(main, 21) == 42
    assert calls == [("main", True), "wait", "leave"]
    assert not dist.is_initialized()


def test_a_single_process_without_a_group_runs_the_main_function_alone():
    assert not dist.is_initialized()
    assert launch_module.leave_process_group_after(lambda a, b: a - b, 5, 3) == 2
    assert not dist.is_initialized()


def test_launch_gives_detectron2_the_main_function_that_leaves_the_group(
    single_process_group, monkeypatch
):
    def detectron2_launch(main_func, num_gpus_per_machine, *, num_machines, args):
        assert (num_gpus_per_machine, num_machines) == (2, 1)
        return main_func(*args)

    monkeypatch.setattr(launch_module, "detectron2_launch", detectron2_launch)
    assert (
        launch_module.launch(lambda name: f"ran {name}", 2, num_machines=1, args=("it",))
        == "ran it"
    )
    assert not dist.is_initialized()
