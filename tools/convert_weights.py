#!/usr/bin/env python
"""``seg-d2 convert-weights`` as a script of this clone: see seg_d2/commands/convert_weights.py."""

import os
import sys

# This clone's seg_d2 first, whatever clone the shared environment was installed from.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from seg_d2.commands.convert_weights import main, run  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run())
