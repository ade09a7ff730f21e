"""A pytest plugin for mutation runs: the test files that took least time run first.

mutmut runs a mutant's tests with ``-x`` in whatever order it lists them, so a mutant that
a unit test catches in a second could first wait for a module fixture that trains for
twenty. Ordering files by the time their selected tests took (mutmut's own record of the
last full run) changes no mutant's result, only how soon a caught one stops.
"""

import json
import os
from collections import Counter

import pytest

STATS = "mutmut-stats.json"  # mutmut writes it beside the mutated tree it runs in


def recorded_durations(folder="."):
    """{test node id: seconds} from mutmut's stats, empty before its first full run."""
    path = os.path.join(folder, STATS)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f).get("duration_by_test", {})


def fastest_files_first(items, durations):
    """``items`` ordered by the total recorded time of their file's selected tests; a
    file's tests stay together and in their order (module fixtures are built once)."""
    cost = Counter()
    for item in items:
        cost[item.nodeid.split("::", 1)[0]] += durations.get(item.nodeid, 0.0)
    return sorted(items, key=lambda item: cost[item.nodeid.split("::", 1)[0]])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    items[:] = fastest_files_first(items, recorded_durations())
