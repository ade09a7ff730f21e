"""The files a benchmark writes: a Markdown table and its raw runs as JSON under
benchmarks/results/, stamped with the machine, date and git commit."""

import datetime
import json
import os
import platform
import subprocess

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")

__all__ = ["REPO", "RESULTS", "machine", "write_results"]


def _cpu_model():
    """The CPU's model name with its family and model numbers, which tell apart CPUs that
    share a name (a virtual machine's "AMD EPYC" may be one generation or another)."""
    try:
        with open("/proc/cpuinfo") as f:
            fields = dict(
                (key.strip(), value.strip())
                for key, _, value in (
                    line.partition(":") for line in f.read().split("\n\n")[0].splitlines()
                )
            )
        return f"{fields['model name']} (family {fields['cpu family']}, model {fields['model']})"
    except (OSError, KeyError):
        return platform.processor() or "unknown CPU"


def machine():
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    )
    return {
        "cpu": _cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip() or "unknown",
    }


def write_results(name, title, note, table, data):
    """Write ``RESULTS/name.md`` and ``RESULTS/name.json``; return the Markdown path."""
    stamp = machine()
    stamp_line = ", ".join(f"{key}: {value}" for key, value in stamp.items())
    os.makedirs(RESULTS, exist_ok=True)
    markdown = os.path.join(RESULTS, f"{name}.md")
    with open(markdown, "w") as f:
        f.write(f"# {title}\n\n{note}\n\nMachine: {stamp_line}\n\n{table}\n")
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump({"machine": stamp, **data}, f, indent=2)
    print(f"written: {markdown}")
    return markdown
