"""seg_d2's launch: each process waits for the others, then leaves its process group
before it exits (a gloo group alive at exit can abort the process)."""

import importlib
import os
import re
from types import SimpleNamespace

from seg_d2.errors import ConfigError

import pytest
import torch.distributed as dist
from conftest import REPO

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
