"""seg_d2's launch: each process waits for the others, then leaves its process group
before it exits (a gloo group alive at exit can abort the process)."""

import importlib
import os
import re
from types import SimpleNamespace

from seg_d2.errors import ConfigError

import pytest
import torch.distributed as dist
from helpers import REPO

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


TORCHRUN = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
SRUN_STEP = {
    "SLURM_JOB_ID": "4242",
    "SLURM_STEP_ID": "0",
    "SLURM_PROCID": "2",
    "SLURM_NTASKS": "4",
    "SLURM_LOCALID": "0",
    "SLURM_STEP_TASKS_PER_NODE": "2(x2)",
    "SLURM_STEP_NODELIST": "gpu[07-08]",
}


def test_a_torchrun_process_knows_its_place_and_joins_through_torchruns_store():
    environ = {
        **TORCHRUN,
        "MASTER_ADDR": "head",
        "MASTER_PORT": "29400",
        "TORCHELASTIC_USE_AGENT_STORE": "True",
        "TORCHELASTIC_RESTART_COUNT": "1",
    }
    assert launch_module.cluster_job(environ) == launch_module.ClusterJob(
        "torchrun",
        rank=3,
        world_size=4,
        local_rank=1,
        local_world_size=2,
        master_addr="head",
        master_port=29400,
        agent_store=True,
        restart=1,
    )


def test_an_srun_task_meets_the_others_at_the_first_node_on_a_port_of_its_job():
    job = launch_module.cluster_job(SRUN_STEP)
    assert (job.launcher, job.rank, job.world_size, job.local_rank, job.local_world_size) == (
        "SLURM",
        2,
        4,
        0,
        2,
    )
    assert (job.master_addr, job.master_port, job.agent_store) == ("gpu07", 24242, False)
    assert launch_module.slurm_port({"SLURM_JOB_ID": "123456"}) == 20000 + 123456 % 20000
    given = launch_module.cluster_job({**SRUN_STEP, "MASTER_ADDR": "head", "MASTER_PORT": "999"})
    assert (given.master_addr, given.master_port) == ("head", 999)


@pytest.mark.parametrize(
    "node_list, first",
    [("node[01-04,07],gpu5", "node01"), ("gpu5,gpu6", "gpu5"), ("localhost", "localhost")],
)
def test_the_first_host_of_a_slurm_node_list(node_list, first):
    assert launch_module._first_host(node_list) == first


def test_uneven_tasks_per_node_are_refused():
    with pytest.raises(ConfigError, match="the same number of tasks on every node"):
        launch_module.cluster_job({**SRUN_STEP, "SLURM_STEP_TASKS_PER_NODE": "2,1"})


def test_plain_processes_and_slurm_batch_scripts_launch_as_usual():
    assert launch_module.cluster_job({}) is None
    batch_script = {k: v for k, v in SRUN_STEP.items() if k != "SLURM_STEP_ID"}
    assert launch_module.cluster_job(batch_script) is None


def test_flags_that_disagree_with_the_job_are_refused_and_absent_ones_follow_it():
    job = launch_module.cluster_job(TORCHRUN)
    job.check_agrees(None, None)
    job.check_agrees(2, 2)
    with pytest.raises(ConfigError, match=r"--num-gpus 4 disagrees with the torchrun job .*\(2 "):
        job.check_agrees(4, None)
    with pytest.raises(ConfigError, match=r"--num-machines 1 disagrees"):
        job.check_agrees(None, 1)


def test_a_restarted_torchrun_job_resumes(monkeypatch):
    args = SimpleNamespace(resume=False)
    monkeypatch.setattr(os, "environ", {**TORCHRUN, "TORCHELASTIC_RESTART_COUNT": "0"})
    assert launch_module.resume_after_restart(args).resume is False
    monkeypatch.setattr(os, "environ", {**TORCHRUN, "TORCHELASTIC_RESTART_COUNT": "2"})
    assert launch_module.resume_after_restart(args).resume is True


def test_a_job_of_one_process_runs_without_a_group_or_detectron2s_launch(monkeypatch):
    monkeypatch.setattr(os, "environ", {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"})
    monkeypatch.setattr(launch_module, "detectron2_launch", None)  # not called
    assert launch_module.launch(lambda x: x + 1, None, args=(1,)) == 2
    assert not dist.is_initialized()


def test_the_sbatch_script_runs_one_task_per_gpu_through_train_net():
    script = open(os.path.join(REPO, "tools", "slurm", "train.sbatch")).read()
    options = dict(re.findall(r"^#SBATCH --([\w-]+)=(\S+)", script, re.MULTILINE))
    assert options["gpus-per-node"] == options["ntasks-per-node"]
    assert script.rstrip().splitlines()[-1] == (
        'srun python tools/train_net.py --config-file "$config" "$@"'
    )


class _Joined:
    """What a cluster job's process asks torch.distributed for, recorded instead of done."""

    def __init__(self, monkeypatch, has_gpu):
        self.calls = {}
        record = self.calls.__setitem__
        monkeypatch.setattr(launch_module.torch.cuda, "is_available", lambda: has_gpu)
        monkeypatch.setattr(launch_module.torch.cuda, "set_device", lambda i: record("device", i))
        monkeypatch.setattr(launch_module, "share_cpu_among_workers", lambda n: record("share", n))
        monkeypatch.setattr(
            dist, "TCPStore", lambda *args, **kwargs: record("store", (args, kwargs)) or "store"
        )
        monkeypatch.setattr(dist, "PrefixStore", lambda prefix, store: (prefix, store))
        monkeypatch.setattr(dist, "init_process_group", lambda **kwargs: record("group", kwargs))
        monkeypatch.setattr(
            launch_module, "create_local_process_group", lambda n: record("local group", n)
        )
        monkeypatch.setattr(launch_module.comm, "synchronize", lambda: record("waited", True))


def _job(**fields):
    place = dict(rank=1, world_size=4, local_rank=1, local_world_size=2, master_addr="head")
    return launch_module.ClusterJob("torchrun", **{**place, "master_port": 29400, **fields})


def test_a_process_of_a_job_on_cpus_joins_its_attempts_store_with_gloo(monkeypatch):
    joined = _Joined(monkeypatch, has_gpu=False)
    timeout = launch_module.timedelta(seconds=7)
    assert _job(restart=2).run(lambda a, b: a + b, (2, 3), timeout) == 5
    assert joined.calls["store"] == (
        ("head", 29400, 4),
        {"is_master": False, "timeout": timeout},
    )
    assert joined.calls["group"] == {
        "backend": "GLOO",
        "store": ("seg_d2/attempt_2", "store"),
        "world_size": 4,
        "rank": 1,
        "timeout": timeout,
    }
    assert (joined.calls["share"], joined.calls["local group"]) == (2, 2)
    assert joined.calls["waited"] and "device" not in joined.calls


def test_rank_0_serves_the_store_unless_the_launchers_agent_does(monkeypatch):
    joined = _Joined(monkeypatch, has_gpu=False)
    _job(rank=0).run(lambda: None)
    assert joined.calls["store"][1]["is_master"] is True
    _job(rank=0, agent_store=True).run(lambda: None)
    assert joined.calls["store"][1]["is_master"] is False
    assert joined.calls["store"][1]["timeout"] == launch_module._DEFAULT_TIMEOUT
    assert joined.calls["group"]["store"][0] == "seg_d2/attempt_0"


def test_a_process_of_a_job_on_gpus_joins_with_nccl_on_the_gpu_of_its_local_rank(monkeypatch):
    joined = _Joined(monkeypatch, has_gpu=True)
    _job(local_rank=1).run(lambda: None)
    assert joined.calls["group"]["backend"] == "NCCL"
    assert joined.calls["device"] == 1 and "share" not in joined.calls


def test_launch_without_flags_starts_one_process_on_one_machine(monkeypatch):
    given = {}

    def detectron2_launch(main_func, num_gpus_per_machine, *args, num_machines, **kwargs):
        given.update(gpus=num_gpus_per_machine, machines=num_machines, positional=args, **kwargs)
        return main_func(*kwargs["args"])

    monkeypatch.setattr(os, "environ", {})
    monkeypatch.setattr(launch_module, "detectron2_launch", detectron2_launch)
    assert launch_module.launch(lambda x: x * 3, None, "extra", args=(2,), dist_url="tcp://x") == 6
    assert given == {
        "gpus": 1,
        "machines": 1,
        "positional": ("extra",),
        "args": (2,),
        "dist_url": "tcp://x",
    }


def test_launch_in_a_cluster_job_checks_the_flags_and_runs_the_job(monkeypatch):
    ran = {}
    monkeypatch.setattr(os, "environ", TORCHRUN)
    monkeypatch.setattr(
        launch_module.ClusterJob,
        "run",
        lambda job, main_func, args, timeout: ran.update(job=job, timeout=timeout) or "ran",
    )
    assert launch_module.launch(lambda: None, 2, args=(), timeout=5) == "ran"
    assert ran == {"job": launch_module.cluster_job(TORCHRUN), "timeout": 5}
    launch_module.launch(lambda: None, None)
    assert ran["timeout"] == launch_module._DEFAULT_TIMEOUT
    with pytest.raises(ConfigError, match="--num-gpus 3 disagrees"):
        launch_module.launch(lambda: None, 3)


def test_torchrun_defaults_where_its_environment_is_silent():
    job = launch_module.cluster_job({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})
    assert (job.local_world_size, job.master_addr, job.master_port) == (2, "127.0.0.1", 29500)
    assert (job.agent_store, job.restart) == (False, 0)
    partial = {"RANK": "0", "WORLD_SIZE": "2"}
    assert launch_module.cluster_job(partial) is None


def test_an_srun_step_reads_the_steps_own_counts_before_the_jobs():
    job_only = {
        k: v
        for k, v in SRUN_STEP.items()
        if k not in ("SLURM_STEP_TASKS_PER_NODE", "SLURM_STEP_NODELIST")
    }
    job_only.update(SLURM_TASKS_PER_NODE="3(x2)", SLURM_JOB_NODELIST="cpu[3-4]")
    job = launch_module.cluster_job(job_only)
    assert (job.local_world_size, job.master_addr, job.restart) == (3, "cpu3", 0)
    step = launch_module.cluster_job(
        {**job_only, **SRUN_STEP, "SLURM_STEP_NUM_TASKS": "6", "SLURM_RESTART_COUNT": "1"}
    )
    assert (step.local_world_size, step.master_addr, step.world_size, step.restart) == (
        2,
        "gpu07",
        6,
        1,
    )
    no_counts = {k: v for k, v in job_only.items() if k != "SLURM_TASKS_PER_NODE"}
    assert launch_module.cluster_job(no_counts).local_world_size == 1
    assert (
        launch_module.cluster_job({**job_only, "SLURM_TASKS_PER_NODE": "4"}).local_world_size == 4
    )
    with pytest.raises(ConfigError, match=r"tasks per node '2\(x3\),1'"):
        launch_module.cluster_job({**job_only, "SLURM_TASKS_PER_NODE": "2(x3),1"})


def test_a_job_already_resuming_or_not_restarted_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(os, "environ", {})
    assert launch_module.resume_after_restart(SimpleNamespace(resume=False)).resume is False
    monkeypatch.setattr(os, "environ", {**TORCHRUN, "TORCHELASTIC_RESTART_COUNT": "1"})
    assert launch_module.resume_after_restart(SimpleNamespace(resume=True)).resume is True


def test_the_argument_parser_leaves_the_process_counts_to_the_job():
    args = launch_module.argument_parser("an epilog").parse_args([])
    assert (args.num_gpus, args.num_machines) == (None, None)
    assert launch_module.argument_parser("an epilog").epilog == "an epilog"
