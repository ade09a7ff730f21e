"""Mutation testing of seg_d2 against its fast tests, with mutmut: how many small
deliberate bugs (a flipped comparison, a changed constant, a dropped argument) some test
catches, per package, and which ones none does.

    python -m dev.mutation [--only seg_d2/modeling seg_d2/data ...] [--max-children N]
        [--tests tests/engine ...] [--resume | --report | --save | --rescore]

mutmut (pinned below) is installed on first use into seg_d2's cache folder, beside the
environment, not into it. The run happens in a copy of the working tree under
output/mutation/ (mutmut rewrites the sources it mutates there); the tests are the fast
ones (``-m "not slow"``) under ``--tests`` (all of tests/ by default; a package's own
test folder makes a run much shorter and its score a lower bound), and mutmut runs for each
mutant only the tests that call the mutated function, the quickest files first
(dev/mutation_test_order.py). Results go to
benchmarks/results/mutation.{md,json}; a run over some packages replaces only their rows.
A mutant that cannot change behaviour is listed with its reason in
dev/mutation_equivalent.json and counted apart. A mutant no test reached (the run
stopped first) counts as surviving: a score never leaves out what was not tested.
Each run's verdicts are saved to benchmarks/results/mutation_run.json (``--save`` for a
run stopped early), so that a run longer than a sitting goes on with ``--resume`` in a
fresh clone.
"""

import argparse
import ast
import filecmp
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter

from seg_d2.env import cache_folder

from tabulate import tabulate

from benchmarks.results_files import REPO, RESULTS, machine

MUTMUT = "mutmut==3.8.1"
TOOL_FOLDER = cache_folder("mutmut-3.8.1")
WORK = os.path.join(REPO, "output", "mutation")
EQUIVALENT = os.path.join(REPO, "dev", "mutation_equivalent.json")
# the last run's verdicts, committed: a checkout without output/mutation/ resumes from it
SAVED_RUN = os.path.join(RESULTS, "mutation_run.json")
PACKAGES = [
    "seg_d2/modeling",
    "seg_d2/data",
    "seg_d2/evaluation",
    "seg_d2/engine",
    "seg_d2",  # the package's own modules (config, compat, visualization, ...)
]
GOALS = {
    "seg_d2/modeling": 85,
    "seg_d2/data": 85,
    "seg_d2/evaluation": 85,
    "seg_d2/engine": 70,
    "seg_d2": 70,
    "overall": 70,
}

# mutmut's exit codes (mutmut/stats.py): what counts as caught. A timeout is caught: the
# mutant hangs a test, which CI's time limit reports; a resumed run checks timeouts again,
# as a busy machine can time out a mutant that does not hang.
TIMEOUTS = {36, -24, 24, 152, 255}
CAUGHT = {1, 3, 37, -11, -9} | TIMEOUTS
SURVIVED = {0}
NO_TESTS = {5, 33}
NOT_CHECKED = {None}  # the run stopped before it reached them
# Keyword arguments whose text only a reader sees (argparse's help); a mutant that changes
# nothing else is counted apart as "help text", not as a bug the tests missed.
HELP_KEYWORDS = {"help", "description", "epilog", "prog", "metavar"}


# Tests that cannot run in mutmut's mutants folder, left out whether named or in a folder
# named (pytest's --ignore leaves out only the files it finds in folders); tests marked
# "clone" (they run a copy of the repository as a clone, which the mutants folder is not)
# are left out by their marker.
TESTS_OUTSIDE_MUTANTS = (
    "tests/test_lint.py",  # ruff reads the sources, which mutmut rewrites into trampolines
)


def install_mutmut():
    if not os.path.isdir(os.path.join(TOOL_FOLDER, "mutmut")):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", TOOL_FOLDER, MUTMUT],
            check=True,
        )


def tracked_files():
    """The working tree's files git tracks or would (not the ignored ones)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    ).stdout.splitlines()
    return [path for path in listed if os.path.isfile(os.path.join(REPO, path))]


def package_of(path):
    """The PACKAGES entry a source file under seg_d2/ belongs to (the first that holds it)."""
    folder = os.path.dirname(path)
    return next(p for p in PACKAGES if folder == p or folder.startswith(p + "/"))


def mutmut_config(packages, files, max_stack_depth=-1, tests=("tests",)):
    """setup.cfg's [mutmut] section for mutating the modules of ``packages`` (listed one by
    one: mutmut matches its patterns with fnmatch, whose ``*`` also crosses folders)."""
    modules = [f for f in files if f.endswith(".py") and f.startswith("seg_d2/")]
    top_level = sorted({path.split("/")[0] for path in files} - {"seg_d2", "tests", "setup.cfg"})
    lines = [
        "[mutmut]",
        "source_paths = seg_d2/",
        "only_mutate =",
        *(f"    {m}" for m in modules if package_of(m) in packages),
        "also_copy =",
        *(f"    {name}" for name in top_level),
        "pytest_add_cli_args_test_selection =",
        *(f"    {path}" for path in tests if path not in TESTS_OUTSIDE_MUTANTS),
        "pytest_add_cli_args =",
        "    -m",
        "    not slow and not clone",
        *(f"    --ignore={path}" for path in TESTS_OUTSIDE_MUTANTS),
        "    -x",
        "    -q",
        # a caught mutant stops at its first failing test: the quick test files go first
        "    -p",
        "    dev.mutation_test_order",
        # torch is not fork-safe once it has run: fork each mutant from a clean server.
        "process_isolation = forkserver",
        "use_git_change_detection = false",
        # -1: every test that reaches a mutated function runs for its mutants; a depth
        # keeps only tests that call it within that many frames (faster, fewer kills)
        f"max_stack_depth = {max_stack_depth}",
    ]
    return "\n".join(lines) + "\n"


def prepare_work_copy(packages, max_stack_depth, tests, fresh=True):
    """The working tree's tracked files (as they are now) under output/mutation/; without
    ``fresh``, over the copy there, keeping mutmut's mutants and results (mutmut makes the
    mutants of a changed source anew)."""
    if fresh:
        shutil.rmtree(WORK, ignore_errors=True)
    files = tracked_files()
    for path in files:
        os.makedirs(os.path.join(WORK, os.path.dirname(path)), exist_ok=True)
        shutil.copy2(os.path.join(REPO, path), os.path.join(WORK, path))
    shapes = os.path.join(REPO, "datasets", "shapes")
    link = os.path.join(WORK, "datasets", "shapes")
    if os.path.isdir(shapes) and not os.path.lexists(link):
        os.symlink(shapes, link)  # generated once; the copy shares it instead of regenerating
    with open(os.path.join(WORK, "setup.cfg"), "w") as f:
        f.write(mutmut_config(packages, files, max_stack_depth, tests))


def mutmut(*args, capture=False):
    return _with_mutmut(["-m", "mutmut", *args], capture=capture)


def _with_mutmut(arguments, capture=False, stdin=None):
    """Run this Python with ``arguments`` in the work copy, mutmut importable."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=WORK,
        env=dict(os.environ, PYTHONPATH=TOOL_FOLDER),
        check=True,
        capture_output=capture,
        input=stdin,
        text=True,
    )


_DIFFS_PROGRAM = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
print(json.dumps({m: get_diff_for_mutant(m, path=p) for m, p in json.load(sys.stdin)}))
"""


def diffs(sources):
    """{mutant: its diff} for {mutant: source path}, in one process: what ``mutmut show``
    prints, without starting mutmut once per mutant (minutes for a thousand)."""
    done = _with_mutmut(
        ["-c", _DIFFS_PROGRAM], capture=True, stdin=json.dumps(sorted(sources.items()))
    )
    return json.loads(done.stdout)


def _metas():
    """(source path, its parsed mutmut .meta file) for each mutated source of the run."""
    mutants = os.path.join(WORK, "mutants")
    for folder, _, files in os.walk(os.path.join(mutants, "seg_d2")):
        for name in sorted(files):
            if name.endswith(".py.meta"):
                meta = os.path.join(folder, name)
                with open(meta) as f:
                    yield os.path.relpath(meta, mutants)[: -len(".meta")], json.load(f)


def exit_codes():
    """{mutant name: (source path, exit code)} from mutmut's .meta files."""
    return {
        mutant: (source, code)
        for source, meta in _metas()
        for mutant, code in meta["exit_code_by_key"].items()
    }


@functools.lru_cache(maxsize=None)
def _functions(source):
    """{name: ast.FunctionDef} of a rewritten source under mutants/ (originals and mutants)."""
    with open(os.path.join(WORK, "mutants", source), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def _without_help_text(function):
    """``function``'s AST as text, without its name and the HELP_KEYWORDS arguments."""
    function = ast.parse(ast.unparse(function)).body[0]  # a copy
    function.name = ""
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            node.keywords = [k for k in node.keywords if k.arg not in HELP_KEYWORDS]
    return ast.dump(function)


def changes_help_text_only(mutant, source):
    """Whether ``mutant`` (mutmut's name, in ``source`` under mutants/) differs from its
    original function only in the text of a help keyword."""
    name = mutant.rsplit(".", 1)[1]
    functions = _functions(source)
    original = functions[re.sub(r"__mutmut_\d+$", "__mutmut_orig", name)]
    return _without_help_text(functions[name]) == _without_help_text(original)


def changed_since_copied(source):
    """Whether the working tree's ``source`` differs from the copy the run mutated."""
    return not filecmp.cmp(os.path.join(WORK, source), os.path.join(REPO, source), shallow=False)


def save_run():
    """Write the run's stamp and, per source, mutmut's verdicts and function hashes to
    SAVED_RUN: a fresh clone (a new session, another machine) has no output/mutation/,
    and a run over a package takes longer than one sitting."""
    sources = {
        source: {key: meta[key] for key in ("exit_code_by_key", "hash_by_function_name")}
        for source, meta in _metas()
    }
    with open(os.path.join(WORK, "stamp.json")) as f:
        stamp = json.load(f)
    with open(SAVED_RUN, "w") as f:
        json.dump({"stamp": stamp, "sources": sources}, f, indent=1, sort_keys=True)


def restore_run(max_stack_depth):
    """output/mutation/ as SAVED_RUN left it: the work copy of today's tree, with the saved
    verdicts where mutmut reads them. mutmut keeps a verdict only while its function's hash
    is unchanged; the mutants of a function changed since are made and run anew."""
    with open(SAVED_RUN) as f:
        saved = json.load(f)
    stamp = saved["stamp"]
    prepare_work_copy(stamp["packages"], max_stack_depth, stamp["tests"])
    for source, meta in saved["sources"].items():
        path = os.path.join(WORK, "mutants", source + ".meta")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            empty = ("type_check_error_by_key", "durations_by_key", "estimated_durations_by_key")
            json.dump({**meta, **dict.fromkeys(empty, {})}, f)
    with open(os.path.join(WORK, "stamp.json"), "w") as f:
        json.dump(stamp, f)


def forget_which_tests_reach_what():
    """Delete mutmut's map of which tests call each function, so that a resumed run maps
    them anew: mutmut 3 maps only tests whose names are new, so a test rewritten under
    its old name (a subprocess call made in-process) would keep its old, empty reach and
    never run against the mutants it now catches."""
    stats = os.path.join(WORK, "mutants", "mutmut-stats.json")
    if os.path.exists(stats):
        os.remove(stats)


def uncaught(codes):
    """The mutants no test caught that change more than help text, to run again."""
    return [
        mutant
        for mutant, (source, code) in sorted(codes.items())
        if code not in CAUGHT | NOT_CHECKED and not changes_help_text_only(mutant, source)
    ]


def to_run_again(codes, equivalent=()):
    """What a resumed run checks again: the mutants no test caught, and those that timed
    out (on a busy machine, a slow test can time out without the mutant hanging it);
    not those listed as ``equivalent``, which no test can catch (each would run every
    test that reaches it, minutes for a layer every model uses)."""
    timed_out = [mutant for mutant, (_, code) in codes.items() if code in TIMEOUTS]
    return sorted(m for m in uncaught(codes) + timed_out if m not in equivalent)


COUNTS = ("mutants", "caught", "survived", "no tests", "equivalent", "help text", "not checked")


def score_packages(codes, equivalent):
    """Per package: each of COUNTS (zeros included), and the score (%)."""
    counts = {}
    for mutant, (source, code) in codes.items():
        row = counts.setdefault(package_of(source), Counter(dict.fromkeys(COUNTS, 0)))
        row["mutants"] += 1
        if mutant in equivalent:
            row["equivalent"] += 1
        elif code not in CAUGHT and changes_help_text_only(mutant, source):
            row["help text"] += 1
        elif code in CAUGHT:
            row["caught"] += 1
        elif code in SURVIVED:
            row["survived"] += 1
        elif code in NO_TESTS:
            row["no tests"] += 1
        elif code in NOT_CHECKED:
            row["not checked"] += 1
        else:
            row["other"] += 1
    return {package: {**row, "score": _package_score(row)} for package, row in counts.items()}


def _package_score(row):
    return 100.0 * row["caught"] / _counted(row)


def _counted(row):
    """The mutants a score is over: those that can change behaviour, reached or not (a
    mutant the run did not reach counts as surviving)."""
    return row["mutants"] - row.get("equivalent", 0) - row.get("help text", 0)


def survivors(codes, equivalent):
    """[{mutant, file, status, diff}] of every mutant no test caught, not listed as
    equivalent and not only changing help text."""
    listed = [mutant for mutant in uncaught(codes) if mutant not in equivalent]
    diff = diffs({mutant: codes[mutant][0] for mutant in listed})
    return [
        {
            "mutant": mutant,
            "file": codes[mutant][0],
            "status": _status(codes[mutant][1]),
            "diff": diff[mutant].strip(),
        }
        for mutant in listed
    ]


def _status(code):
    """How a mutant no test caught ended, in mutmut's words where the code is not its own."""
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return f"mutmut exit code {code}"


def overall(packages):
    """The score over all of seg_d2, or None until every package has been run."""
    if set(packages) != set(PACKAGES):
        return None
    caught = sum(row["caught"] for row in packages.values())
    counted = sum(_counted(row) for row in packages.values())
    return 100.0 * caught / counted


def _score(value):
    return "not all packages run" if value is None else f"{value:.1f}"


def write(packages_run, scores, rows, stamp):
    """Merge this run's packages into mutation.json and write mutation.md from it."""
    path = os.path.join(RESULTS, "mutation.json")
    data = {"packages": {}, "survivors": []}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    for package in packages_run:
        data["packages"][package] = {**scores.get(package, {}), "run": stamp}
    for row in data["packages"].values():  # every row by the formula of today
        row["score"] = _package_score(row)
    data["survivors"] = [
        row for row in data["survivors"] if package_of(row["file"]) not in packages_run
    ] + rows
    data["overall"] = overall(data["packages"])
    data["goals"] = GOALS
    with open(path, "w") as f:
        json.dump(data, f, indent=2)

    table = tabulate(
        [
            [
                package,
                row["mutants"],
                row["caught"],
                row.get("survived", 0),
                row.get("no tests", 0),
                row.get("equivalent", 0),
                row.get("help text", 0),
                row.get("not checked", 0),
                f"{row['score']:.1f}",
                GOALS.get(package, ""),
                row["run"]["commit"],
                " ".join(row["run"].get("tests", ["tests"])),
            ]
            for package, row in sorted(data["packages"].items())
        ]
        + [
            ["overall", "", "", "", "", "", "", "", _score(data["overall"]), GOALS["overall"]]
            + ["", ""]
        ],
        headers=[
            "package",
            "mutants",
            "caught",
            "survived",
            "no tests",
            "equivalent",
            "help text",
            "not reached",
            "score %",
            "goal %",
            "commit",
            "tests",
        ],
        tablefmt="github",
        disable_numparse=True,
    )
    listing = "\n\n".join(
        f"### {row['mutant']} ({row['status']})\n\n```diff\n{row['diff']}\n```"
        for row in data["survivors"]
    )
    with open(os.path.join(RESULTS, "mutation.md"), "w") as f:
        f.write(
            "# Mutation testing (mutmut) of seg_d2 against the fast tests\n\n"
            "Written by `python -m dev.mutation`; score = caught / (mutants - "
            "equivalent - help text), a timeout counting as caught and a mutant not reached "
            "(the run stopped before it) as surviving; equivalent "
            "mutants (and the few that run when a module is imported, before mutmut can switch "
            'them on) and their reasons are in dev/mutation_equivalent.json; "help '
            'text": mutants that change only the text of an argparse help, description or '
            'prog (found by comparing ASTs); "not reached": the run was stopped before it '
            'reached them; "tests": the tests the mutants faced (their fast ones).\n\n'
            f"{table}\n\n## Mutants no test catches\n\n{listing}\n"
        )
    print(table)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=PACKAGES, default=PACKAGES)
    parser.add_argument("--max-children", type=int, default=os.cpu_count())
    parser.add_argument("--max-stack-depth", type=int, default=-1, help="mutmut's; -1: no limit")
    parser.add_argument(
        "--tests",
        nargs="+",
        help="test files or folders the mutants face (default: all of tests/; with --resume, "
        "the run's own unless given)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run left in output/mutation/ (or, where there is none, the one "
        "saved in benchmarks/results/mutation_run.json) with the working tree as it is now: "
        "the mutants it did not reach, then again every one no test caught or that timed out",
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help="only save the run left in output/mutation/ (one stopped early) to "
        "benchmarks/results/mutation_run.json, for a --resume in another checkout",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="only write the results of the run left in output/mutation/ (one stopped early)",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="only rewrite mutation.{md,json} from the counts mutation.json holds",
    )
    args = parser.parse_args(argv)
    if args.rescore:
        write([], {}, [], None)
        return

    install_mutmut()
    stamp_file = os.path.join(WORK, "stamp.json")  # the machine and commit of the run
    children = ["--max-children", str(args.max_children)]
    packages = args.only
    if args.save:
        save_run()
        return
    if args.resume:
        if not os.path.exists(stamp_file):
            restore_run(args.max_stack_depth)
        with open(stamp_file) as f:
            stamp = json.load(f)
        packages = stamp.get("packages", packages)  # the run's own
        codes = exit_codes()  # the verdicts so far
        changed = {source for source, _ in codes.values() if changed_since_copied(source)}
        if args.tests:
            stamp["tests"] = args.tests
        tests = stamp.setdefault("tests", ["tests"])  # runs before --tests faced all
        prepare_work_copy(packages, args.max_stack_depth, tests, fresh=False)
        forget_which_tests_reach_what()
        stamp["commit"] = f"{stamp['commit']}, resumed at {machine()['commit']}"
        with open(stamp_file, "w") as f:
            json.dump(stamp, f)
        # first the mutants the run had not reached, with those of sources changed since
        # (made anew by mutmut): most of them are caught, so a run stopped early gains the
        # most; then those no test caught (or that timed out), with the tests as they are now
        mutmut("run", *children)
        # the earlier verdicts of mutants still there, unchanged: a restored run's mutants
        # exist only now, and so does what tells their help text apart
        existing = exit_codes()
        earlier = {m: v for m, v in codes.items() if m in existing and v[0] not in changed}
        with open(EQUIVALENT) as f:
            again = to_run_again(earlier, json.load(f))
        if again:
            mutmut("run", *children, *again)
    elif not args.report:
        tests = args.tests or ["tests"]
        prepare_work_copy(args.only, args.max_stack_depth, tests)
        with open(stamp_file, "w") as f:
            json.dump({**machine(), "packages": packages, "tests": tests}, f)
        mutmut("run", *children)
    with open(stamp_file) as f:
        stamp = json.load(f)
    packages = stamp.pop("packages", packages)
    with open(EQUIVALENT) as f:
        equivalent = json.load(f)
    codes = exit_codes()
    write(packages, score_packages(codes, equivalent), survivors(codes, equivalent), stamp)
    save_run()


if __name__ == "__main__":
    main()
