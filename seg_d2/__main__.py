"""``python -m seg_d2 COMMAND``: the ``seg-d2`` command (seg_d2.cli)."""

import sys

from seg_d2.cli import main

sys.exit(main())
