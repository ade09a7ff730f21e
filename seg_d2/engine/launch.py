"""Starting a job of several processes: detectron2's ``launch`` (``--num-gpus``,
``--num-machines``), or joining the job a cluster launcher started.

* ``torchrun`` (``torch.distributed.run``) starts every process itself and says in its
  environment which one each is (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
  ``LOCAL_WORLD_SIZE``); the processes meet in torchrun's own store (``MASTER_ADDR``,
  ``MASTER_PORT``), under a prefix of their attempt: a restarted job must not read the
  addresses the processes of the attempt before it left there.
* SLURM's ``srun`` starts one task per process (``SLURM_PROCID``, ``SLURM_NTASKS``,
  ``SLURM_LOCALID``, the tasks per node, the node list of the step); the processes meet
  at the step's first node, on ``MASTER_PORT`` or else on port 20000 + the job id modulo
  20000, so that two jobs on one node meet on different ports. Only the tasks of an
  ``srun`` step (``SLURM_STEP_ID`` set) join: the batch script itself launches as usual.

Either way gloo joins processes on the CPU and NCCL on GPUs (one per process, by its
local rank), and ``--num-gpus`` / ``--num-machines``, when given, must agree with the
job. A job that torchrun restarts (``--max-restarts``) continues from its last checkpoint,
as ``--resume`` does. Every process leaves its process group before it exits: a process
that exits with its gloo group still alive can abort in the interpreter's shutdown
(pytorch/pytorch#190489), and detectron2 never destroys the group.
"""

import functools
import logging
import os
import re
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from detectron2.engine import default_argument_parser
from detectron2.utils import comm

from ..compat import create_local_process_group, share_cpu_among_workers
from ..compat import launch as detectron2_launch
from ..errors import ConfigError

__all__ = [
    "ClusterJob",
    "argument_parser",
    "cluster_job",
    "launch",
    "resume_after_restart",
    "slurm_port",
]

SLURM_PORT_BASE = 20000
_DEFAULT_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class ClusterJob:
    """This process's place in a job a cluster launcher started."""

    launcher: str
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    master_addr: str
    master_port: int
    # Whether the launcher's agent serves the store (torchrun), else rank 0 does.
    agent_store: bool = False
    restart: int = 0

    def check_agrees(self, num_gpus, num_machines):
        """``--num-gpus`` / ``--num-machines`` as given (None: not given) against the job."""
        machines = self.world_size // self.local_world_size
        for flag, given, actual in (
            ("--num-gpus", num_gpus, self.local_world_size),
            ("--num-machines", num_machines, machines),
        ):
            if given is not None and given != actual:
                raise ConfigError(
                    f"{flag} {given} disagrees with the {self.launcher} job this process belongs "
                    f"to ({self.local_world_size} process(es) per machine on {machines} "
                    f"machine(s)): leave --num-gpus and --num-machines out under {self.launcher}"
                )

    def run(self, main_func, args=(), timeout=_DEFAULT_TIMEOUT):
        """``main_func(*args)`` in this job's process group."""
        if self.world_size == 1:
            return main_func(*args)
        has_gpu = torch.cuda.is_available()
        if not has_gpu:
            share_cpu_among_workers(self.local_world_size)
        store = dist.TCPStore(
            self.master_addr,
            self.master_port,
            self.world_size,
            is_master=not self.agent_store and self.rank == 0,
            timeout=timeout,
        )
        dist.init_process_group(
            backend="NCCL" if has_gpu else "GLOO",
            store=dist.PrefixStore(f"seg_d2/attempt_{self.restart}", store),
            world_size=self.world_size,
            rank=self.rank,
            timeout=timeout,
        )
        create_local_process_group(self.local_world_size)
        if has_gpu:
            torch.cuda.set_device(self.local_rank)
        comm.synchronize()
        return main_func(*args)


def _first_host(node_list):
    """The first host of a SLURM node list (``node[01-04,07],gpu5`` -> ``node01``)."""
    first = re.match(r"[^,\[]*(\[[^\]]*\])?", node_list).group()
    prefix, _, ranges = first.partition("[")
    return prefix + re.split(r"[-,\]]", ranges)[0] if ranges else prefix


def slurm_port(environ):
    """The port SLURM tasks meet on: ``MASTER_PORT``, else one of the job's own."""
    if environ.get("MASTER_PORT"):
        return int(environ["MASTER_PORT"])
    return SLURM_PORT_BASE + int(environ["SLURM_JOB_ID"]) % 20000


def _tasks_per_node(environ):
    value = environ.get("SLURM_STEP_TASKS_PER_NODE") or environ.get("SLURM_TASKS_PER_NODE", "1")
    counts = {int(count) for count in re.findall(r"(\d+)(?:\(x\d+\))?", value)}
    if len(counts) != 1:
        raise ConfigError(
            f"SLURM tasks per node {value!r}: seg_d2 needs the same number of tasks on every "
            "node (srun --ntasks-per-node)"
        )
    return counts.pop()


def cluster_job(environ=None):
    """The job torchrun or an ``srun`` step started this process in, or None."""
    environ = os.environ if environ is None else environ
    if all(key in environ for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK")):
        world_size = int(environ["WORLD_SIZE"])
        return ClusterJob(
            "torchrun",
            rank=int(environ["RANK"]),
            world_size=world_size,
            local_rank=int(environ["LOCAL_RANK"]),
            local_world_size=int(environ.get("LOCAL_WORLD_SIZE", world_size)),
            master_addr=environ.get("MASTER_ADDR", "127.0.0.1"),
            master_port=int(environ.get("MASTER_PORT", 29500)),
            agent_store=environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True",
            restart=int(environ.get("TORCHELASTIC_RESTART_COUNT", 0)),
        )
    if "SLURM_STEP_ID" in environ and "SLURM_PROCID" in environ:
        nodes = environ.get("SLURM_STEP_NODELIST") or environ["SLURM_JOB_NODELIST"]
        return ClusterJob(
            "SLURM",
            rank=int(environ["SLURM_PROCID"]),
            world_size=int(environ.get("SLURM_STEP_NUM_TASKS") or environ["SLURM_NTASKS"]),
            local_rank=int(environ["SLURM_LOCALID"]),
            local_world_size=_tasks_per_node(environ),
            master_addr=environ.get("MASTER_ADDR") or _first_host(nodes),
            master_port=slurm_port(environ),
            restart=int(environ.get("SLURM_RESTART_COUNT", 0)),
        )
    return None


def leave_process_group_after(main_func, *args):
    """``main_func(*args)``, then every process waits for the others and destroys its
    process group, so none exits while another still exchanges with it."""
    result = main_func(*args)
    if dist.is_initialized():
        comm.synchronize()
        dist.destroy_process_group()
    return result


def launch(main_func, num_gpus_per_machine=None, *args, num_machines=None, **kwargs):
    """Run ``main_func(*kwargs["args"])`` in every process of the job: the job a cluster
    launcher started this process in (``cluster_job``), or else the processes detectron2's
    ``launch`` starts (through seg_d2.compat on detectron2 0.6). ``num_gpus_per_machine``
    and ``num_machines`` are None when the command line did not give them."""
    main_func = functools.partial(leave_process_group_after, main_func)
    job = cluster_job()
    if job is None:
        return detectron2_launch(
            main_func, num_gpus_per_machine or 1, *args, num_machines=num_machines or 1, **kwargs
        )
    job.check_agrees(num_gpus_per_machine, num_machines)
    return job.run(main_func, kwargs.get("args", ()), kwargs.get("timeout", _DEFAULT_TIMEOUT))


def argument_parser(epilog=None):
    """detectron2's ``default_argument_parser``, with ``--num-gpus`` and ``--num-machines``
    None when not given (a cluster launcher's job then decides them)."""
    parser = default_argument_parser(epilog)
    parser.set_defaults(num_gpus=None, num_machines=None)
    return parser


def resume_after_restart(args):
    """``args.resume`` set when torchrun restarted this job (``--max-restarts``): it goes
    on from its last checkpoint."""
    job = cluster_job()
    if job is not None and job.restart > 0 and not args.resume:
        logging.getLogger(__name__).warning(
            "restart %d of this %s job: resuming from the last checkpoint",
            job.restart,
            job.launcher,
        )
        args.resume = True
    return args
