"""A pytest plugin (pytest.ini loads it): a test may be skipped only for a reason listed
here, so a check that quietly stops running (a missing dependency, a changed condition)
fails the run instead of shrinking it."""

import pytest

STATED_SKIP_REASONS = {
    # tests/test_compat.py: the stand-in's error only exists without them
    "detectron2 here has its compiled ops",
    # tests/test_compat.py: compat's local group is for detectron2 0.6, which has none
    "detectron2 makes the local group itself",
}

_unexplained = []


def _reason(report):
    """The text pytest.skip / skipif gave, from a skipped report."""
    if isinstance(report.longrepr, tuple):
        return report.longrepr[2].removeprefix("Skipped: ")
    return str(report.longrepr)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _reason(report)
        if reason not in STATED_SKIP_REASONS:
            _unexplained.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session):
    if _unexplained:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _unexplained:
        terminalreporter.section("skipped without a stated reason (tests/skip_policy.py)")
        for line in _unexplained:
            terminalreporter.write_line(line)
