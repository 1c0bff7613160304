"""Rules for every test: no skip hides in CI, and every skip is listed at the end.

A test that needs something the machine lacks skips with the reason. On a
developer's machine that is a skip; in CI (the environment variable CI is set
to true, as .ci/run does) a skip of a test marked ``ci_required`` is turned
into a failure naming the reason, because CI provisions everything
(./bootstrap.sh) and a skip there means a test that silently never ran.
Every test under tests/hil/ and tests/xen/ is ``ci_required`` (their
conftests add the marker), as is each unit test marked so by hand; a test that
may skip in CI says so with ``ci_optional`` (e.g. the one that needs a real
Xen host).

At the end of a run, after pytest's own summary lines, comes the list of
skipped tests with their reasons, so that what did not run is the last thing
a reader sees.
"""

from __future__ import annotations

import os

import pytest

#: Values of $CI that mean "this is the CI machine" (GitHub, GitLab and .ci/run set "true").
CI_VALUES = ("1", "true", "yes")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ci_required: must run in CI; there a skip of it is a failure")
    config.addinivalue_line("markers", "ci_optional: may skip in CI (needs what CI cannot have)")


def required_in_ci(item: pytest.Item) -> bool:
    return item.get_closest_marker("ci_required") is not None and item.get_closest_marker("ci_optional") is None


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    report.user_properties.append(("required_in_ci", required_in_ci(item)))
    if in_ci() and required_in_ci(item):
        reason = _skip_reason(report)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where this test is required (ci_required): {reason}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):  # type: ignore[no-untyped-def]
    # A wrapper that goes first finishes last: after pytest's own short summary (-ra).
    result = yield
    skipped = terminalreporter.stats.get("skipped", [])
    terminalreporter.write_sep("=", f"skipped tests and why: {len(skipped)}")
    for report in skipped:
        required = dict(report.user_properties).get("required_in_ci", False)
        note = " [required in CI: fails there]" if required else ""
        terminalreporter.write_line(f"SKIPPED {report.nodeid}: {_skip_reason(report)}{note}")
    return result
