"""``python -m seg_d2 env``: print the environment table for bug reports."""

import argparse

from seg_d2 import collect_env_info

parser = argparse.ArgumentParser(prog="python -m seg_d2", description=__doc__)
parser.add_argument("command", choices=["env"])
parser.parse_args()
print(collect_env_info())
