"""detectron2's ``launch`` whose processes leave their process group before they exit.

A process that exits with its gloo group still alive can abort in the interpreter's
shutdown ("terminate called without an active exception", pytorch/pytorch#190489):
gloo's threads still hold work of the last collectives. detectron2 never destroys the
group, so now and then a 2-process run on a CPU ended with SIGABRT after training.
"""

import functools

import torch.distributed as dist
from detectron2.utils import comm

from ..compat import launch as detectron2_launch

__all__ = ["launch"]


def leave_process_group_after(main_func, *args):
    """``main_func(*args)``, then every process waits for the others and destroys its
    process group, so none exits while another still exchanges with it."""
    result = main_func(*args)
    if dist.is_initialized():
        comm.synchronize()
        dist.destroy_process_group()
    return result


def launch(main_func, num_gpus_per_machine, *args, **kwargs):
    """``detectron2.engine.launch`` (through seg_d2.compat on detectron2 0.6), whose
    processes end cleanly."""
    return detectron2_launch(
        functools.partial(leave_process_group_after, main_func),
        num_gpus_per_machine,
        *args,
        **kwargs,
    )
