"""The mutation runs' test order: quick files first, a file's tests together."""

import json
from types import SimpleNamespace

from dev.mutation_test_order import fastest_files_first, recorded_durations


def _items(*nodeids):
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def test_files_run_by_the_total_time_of_their_selected_tests_and_stay_together():
    items = _items("slow.py::a", "slow.py::b", "quick.py::c", "mid.py::d", "quick.py::e")
    durations = {"slow.py::a": 20.0, "slow.py::b": 0.1, "quick.py::c": 0.2, "mid.py::d": 1.0}
    ordered = [item.nodeid for item in fastest_files_first(items, durations)]
    assert ordered == ["quick.py::c", "quick.py::e", "mid.py::d", "slow.py::a", "slow.py::b"]


def test_a_file_with_one_slow_test_runs_after_a_file_of_many_quick_ones():
    items = _items("one.py::a", "many.py::b", "many.py::c", "many.py::d")
    durations = {"one.py::a": 3.0, "many.py::b": 1.0, "many.py::c": 1.0, "many.py::d": 0.5}
    ordered = [item.nodeid for item in fastest_files_first(items, durations)]
    assert ordered == ["many.py::b", "many.py::c", "many.py::d", "one.py::a"]


def test_durations_are_mutmuts_record_and_none_before_its_first_run(tmp_path):
    assert recorded_durations(tmp_path) == {}
    stats = {"duration_by_test": {"tests/t.py::a": 1.5}, "tests_by_mangled_function_name": {}}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps(stats))
    assert recorded_durations(tmp_path) == {"tests/t.py::a": 1.5}
