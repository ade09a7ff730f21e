"""dev.mutation's reading of mutmut's rewritten sources."""

import os
import shutil
import textwrap

from dev import mutation

REWRITTEN = textwrap.dedent(
    """
    def x__parser__mutmut_orig():
        parser.add_argument("--seed", type=int, default=0, help="the split's seed")
        layout("via", help=describe("VIA"))

    def x__parser__mutmut_1():
        parser.add_argument("--seed", type=int, default=0, help="XXthe split's seedXX")
        layout("via", help=describe("VIA"))

    def x__parser__mutmut_2():
        parser.add_argument("--seed", type=int, default=0, help="the split's seed")
        layout("via", help=None)

    def x__parser__mutmut_3():
        parser.add_argument("--seed", type=int, default=1, help="the split's seed")
        layout("via", help=describe("VIA"))

    def x__parser__mutmut_4():
        parser.add_argument("XX--seedXX", type=int, default=0, help="the split's seed")
        layout("via", help=describe("VIA"))

    def x__parser__mutmut_5():
        parser.add_argument("--seed", type=int, default=0)
        layout("via", help=describe("VIA"))
    """
)


def test_only_mutants_that_change_nothing_but_help_text_are_set_apart(tmp_path, monkeypatch):
    source = "seg_d2/data/convert/__main__.py"
    (tmp_path / "mutants" / "seg_d2" / "data" / "convert").mkdir(parents=True)
    (tmp_path / "mutants" / source).write_text(REWRITTEN)
    monkeypatch.setattr(mutation, "WORK", str(tmp_path))
    mutation._functions.cache_clear()
    try:
        found = {
            n: mutation.changes_help_text_only(
                f"seg_d2.data.convert.__main__.x__parser__mutmut_{n}", source
            )
            for n in (1, 2, 3, 4, 5)
        }
    finally:
        mutation._functions.cache_clear()
    assert found == {1: True, 2: True, 3: False, 4: False, 5: True}


def test_help_text_mutants_leave_the_score_and_unreached_ones_count_as_surviving():
    row = {"mutants": 10, "caught": 4, "equivalent": 1, "help text": 2, "not checked": 3}
    assert mutation._counted(row) == 7
    assert mutation._package_score(row) == 100.0 * 4 / 7


def test_a_resumed_run_runs_again_what_no_test_caught_and_what_timed_out(monkeypatch):
    monkeypatch.setattr(mutation, "changes_help_text_only", lambda mutant, source: mutant == "e")
    codes = {m: ("seg_d2/x.py", code) for m, code in zip("abcdefg", [0, 1, None, 33, 0, -9, -24])}
    assert mutation.uncaught(codes) == ["a", "d"]
    assert mutation.to_run_again(codes) == ["a", "d", "g"]  # and the timeout, counted caught
    assert mutation.to_run_again(codes, {"d": "equivalent: no test can catch it"}) == ["a", "g"]
    assert -24 in mutation.CAUGHT


def test_sources_changed_since_the_run_copied_them_are_told_apart(tmp_path, monkeypatch):
    for root, text in (("work", "a = 1\n"), ("repo", "a = 2\n")):
        (tmp_path / root / "seg_d2").mkdir(parents=True)
        (tmp_path / root / "seg_d2" / "changed.py").write_text(text)
        (tmp_path / root / "seg_d2" / "same.py").write_text("b = 1\n")
    monkeypatch.setattr(mutation, "WORK", str(tmp_path / "work"))
    monkeypatch.setattr(mutation, "REPO", str(tmp_path / "repo"))
    assert mutation.changed_since_copied("seg_d2/changed.py")
    assert not mutation.changed_since_copied("seg_d2/same.py")


def test_a_resumed_run_maps_every_test_anew(tmp_path, monkeypatch):
    (tmp_path / "mutants").mkdir()
    stats = tmp_path / "mutants" / "mutmut-stats.json"
    stats.write_text("{}")
    monkeypatch.setattr(mutation, "WORK", str(tmp_path))
    mutation.forget_which_tests_reach_what()
    assert not stats.exists()
    mutation.forget_which_tests_reach_what()  # nothing to forget: no error


def test_the_mutants_face_the_tests_named_and_only_the_fast_ones():
    files = ["seg_d2/engine/trainer.py", "seg_d2/data/masks.py", "tools/train_net.py"]
    config = mutation.mutmut_config(["seg_d2/engine"], files, tests=["tests/engine", "tests/x.py"])
    section = config.split("pytest_add_cli_args_test_selection =\n")[1].split("pytest_add")[0]
    assert section.split() == ["tests/engine", "tests/x.py"]
    assert "    not slow and not clone\n" in config
    mutated = config.split("only_mutate =\n")[1].split("also_copy")[0]
    assert mutated.split() == ["seg_d2/engine/trainer.py"]


def test_tests_that_cannot_run_among_mutants_are_left_out_even_when_named():
    files = ["seg_d2/cli.py"]
    config = mutation.mutmut_config(["seg_d2"], files, tests=["tests/test_lint.py", "tests/x.py"])
    section = config.split("pytest_add_cli_args_test_selection =\n")[1].split("pytest_add")[0]
    assert section.split() == ["tests/x.py"]
    for path in mutation.TESTS_OUTSIDE_MUTANTS:  # and when a folder holding them is named
        assert f"    --ignore={path}\n" in config


def test_every_count_is_written_zeros_included(monkeypatch):
    monkeypatch.setattr(mutation, "changes_help_text_only", lambda mutant, source: False)
    codes = {"a": ("seg_d2/modeling/x.py", 1), "b": ("seg_d2/modeling/x.py", 0)}
    (row,) = mutation.score_packages(codes, {}).values()
    assert row == {
        "mutants": 2,
        "caught": 1,
        "survived": 1,
        "no tests": 0,
        "equivalent": 0,
        "help text": 0,
        "not checked": 0,
        "score": 50.0,
    }


def _resumed_stamp(tmp_path, monkeypatch, argv, codes=None, runs=None):
    """The stamp a --resume leaves, with mutmut and the work copy stubbed out; ``runs``
    receives the arguments of each mutmut call."""
    import json

    (tmp_path / "stamp.json").write_text(
        json.dumps({"commit": "abc", "packages": ["seg_d2"], "tests": ["tests/test_a.py"]})
    )
    monkeypatch.setattr(mutation, "WORK", str(tmp_path))
    prepared = []
    for name, stub in {
        "install_mutmut": lambda: None,
        "exit_codes": lambda: codes or {},
        "changed_since_copied": lambda source: False,
        "changes_help_text_only": lambda mutant, source: False,
        "prepare_work_copy": lambda packages, depth, tests, fresh: prepared.append(tests),
        "forget_which_tests_reach_what": lambda: None,
        "mutmut": lambda *args, **kwargs: (runs if runs is not None else []).append(args),
        "machine": lambda: {"commit": "def"},
        "write": lambda *args: None,
        "score_packages": lambda *args: {},
        "survivors": lambda *args: [],
        "save_run": lambda: None,
    }.items():
        monkeypatch.setattr(mutation, name, stub)
    mutation.main(["--resume", *argv])
    return json.loads((tmp_path / "stamp.json").read_text()), prepared


def test_a_resumed_run_faces_its_own_tests_unless_others_are_named(tmp_path, monkeypatch):
    stamp, prepared = _resumed_stamp(tmp_path, monkeypatch, [])
    assert stamp["tests"] == ["tests/test_a.py"] == prepared[0]
    assert stamp["commit"] == "abc, resumed at def"
    stamp, prepared = _resumed_stamp(tmp_path, monkeypatch, ["--tests", "tests/x", "tests/y.py"])
    assert stamp["tests"] == ["tests/x", "tests/y.py"] == prepared[0]


def test_a_resumed_run_reaches_the_rest_before_running_the_uncaught_again(tmp_path, monkeypatch):
    codes = {"m.caught": ("m.py", 1), "m.survived": ("m.py", 0), "m.unreached": ("m.py", None)}
    runs = []
    _resumed_stamp(tmp_path, monkeypatch, [], codes, runs)
    children = ("--max-children", str(os.cpu_count()))
    assert runs == [("run", *children), ("run", *children, "m.survived")]


def test_the_survivors_listed_are_the_uncaught_ones_with_their_diffs(monkeypatch):
    """Every uncaught mutant not listed as equivalent, with its file, how it ended and its
    diff; their diffs asked for in one call (one mutmut process, not one per mutant)."""
    monkeypatch.setattr(mutation, "changes_help_text_only", lambda mutant, source: False)
    asked = []

    def diffs(sources):
        asked.append(sources)
        return {
            mutant: f"\n--- {source}\n+++ {source}\n-a\n+b\n" for mutant, source in sources.items()
        }

    monkeypatch.setattr(mutation, "diffs", diffs)
    codes = {
        "m.x_1": ("seg_d2/a.py", 0),
        "m.x_2": ("seg_d2/a.py", 1),
        "m.x_3": ("seg_d2/b.py", 33),
        "m.x_4": ("seg_d2/b.py", 0),
        "m.x_5": ("seg_d2/b.py", None),
    }
    rows = mutation.survivors(codes, {"m.x_4": "equivalent: why"})
    assert asked == [{"m.x_1": "seg_d2/a.py", "m.x_3": "seg_d2/b.py"}]
    assert rows == [
        {
            "mutant": "m.x_1",
            "file": "seg_d2/a.py",
            "status": "survived",
            "diff": "--- seg_d2/a.py\n+++ seg_d2/a.py\n-a\n+b",
        },
        {
            "mutant": "m.x_3",
            "file": "seg_d2/b.py",
            "status": "no tests",
            "diff": "--- seg_d2/b.py\n+++ seg_d2/b.py\n-a\n+b",
        },
    ]


def test_a_saved_run_is_restored_where_mutmut_reads_its_verdicts(tmp_path, monkeypatch):
    import json

    work, saved = tmp_path / "work", tmp_path / "mutation_run.json"
    meta = work / "mutants" / "seg_d2" / "data" / "masks.py.meta"
    meta.parent.mkdir(parents=True)
    verdicts = {
        "exit_code_by_key": {
            "seg_d2.data.masks.x_f__mutmut_1": 1,
            "seg_d2.data.masks.x_f__mutmut_2": None,
        },
        "hash_by_function_name": {"x_f": "3f2a"},
    }
    meta.write_text(json.dumps({**verdicts, "durations_by_key": {"a": 0.5}}))
    stamp = {"commit": "abc", "packages": ["seg_d2/data"], "tests": ["tests/data"]}
    (work / "stamp.json").write_text(json.dumps(stamp))
    monkeypatch.setattr(mutation, "WORK", str(work))
    monkeypatch.setattr(mutation, "SAVED_RUN", str(saved))
    mutation.save_run()
    assert json.loads(saved.read_text()) == {
        "stamp": stamp,
        "sources": {"seg_d2/data/masks.py": verdicts},
    }

    shutil.rmtree(work)  # a fresh clone
    prepared = []
    monkeypatch.setattr(mutation, "prepare_work_copy", lambda *args: prepared.append(args))
    mutation.restore_run(max_stack_depth=3)
    assert prepared == [(["seg_d2/data"], 3, ["tests/data"])]
    assert json.loads((work / "stamp.json").read_text()) == stamp
    assert json.loads(meta.read_text()) == {
        **verdicts,
        "type_check_error_by_key": {},
        "durations_by_key": {},
        "estimated_durations_by_key": {},
    }


def test_a_resume_without_a_run_in_this_checkout_starts_from_the_saved_one(tmp_path, monkeypatch):
    restored = []

    def restore(depth):
        restored.append(depth)
        (tmp_path / "stamp.json").write_text('{"commit": "abc", "packages": ["seg_d2"]}')

    monkeypatch.setattr(mutation, "restore_run", restore)
    for stub in ("install_mutmut", "prepare_work_copy", "forget_which_tests_reach_what"):
        monkeypatch.setattr(mutation, stub, lambda *args, **kwargs: None)
    monkeypatch.setattr(mutation, "WORK", str(tmp_path))
    monkeypatch.setattr(mutation, "machine", lambda: {"commit": "def"})
    monkeypatch.setattr(mutation, "exit_codes", lambda: {})
    monkeypatch.setattr(mutation, "mutmut", lambda *args: None)
    monkeypatch.setattr(mutation, "write", lambda *args: None)
    monkeypatch.setattr(mutation, "survivors", lambda *args: [])
    monkeypatch.setattr(mutation, "save_run", lambda: restored.append("saved"))
    mutation.main(["--resume", "--max-stack-depth", "2"])
    assert restored == [2, "saved"]
    mutation.main(["--resume"])  # a run in this checkout: not restored again
    assert restored == [2, "saved", "saved"]


def test_the_uncaught_run_again_are_those_still_there_of_sources_unchanged_since(
    tmp_path, monkeypatch
):
    codes = {
        "m.x_f__mutmut_1": ("m.py", 0),
        "m.x_g__mutmut_1": ("m.py", 0),  # x_g removed since the run was saved
        "n.x_h__mutmut_1": ("n.py", 0),  # n.py changed since: its mutants were run anew
    }
    after = {"m.x_f__mutmut_1": ("m.py", 0), "n.x_h__mutmut_1": ("n.py", 1)}
    answers = iter([codes, after, after])
    runs = []
    _resumed_stamp(tmp_path, monkeypatch, [], None, runs)  # the stubs, then the real case
    monkeypatch.setattr(mutation, "exit_codes", lambda: next(answers))
    monkeypatch.setattr(mutation, "changed_since_copied", lambda source: source == "n.py")
    mutation.main(["--resume"])
    children = ("--max-children", str(os.cpu_count()))
    assert runs[-1] == ("run", *children, "m.x_f__mutmut_1")
