"""tools/train_net.py whose process of rank 1 exits after iteration 1 (of a job's first
attempt, under torchrun), as a process killed by the system would: how a multi-process
job ends, and that --resume (or torchrun's restart) continues it.
The patch is at module level so that the spawned processes, which import this file
again, have it too."""

import os
import sys

from seg_d2.commands import train
from seg_d2.engine import Trainer

from detectron2.engine import HookBase
from detectron2.utils import comm

DYING_RANK, AT_ITERATION, EXIT_CODE = 1, 1, 7


class _ExitAtIteration(HookBase):
    def after_step(self):
        first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
        if first_attempt and comm.get_rank() == DYING_RANK and self.trainer.iter == AT_ITERATION:
            os._exit(EXIT_CODE)


_build_hooks = Trainer.build_hooks
Trainer.build_hooks = lambda self: [*_build_hooks(self), _ExitAtIteration()]

if __name__ == "__main__":
    sys.exit(train.run())
