"""rigs.conformance without booting anything: run-tests.py's results file and
progress lines, the skip list, the per-directory counts and the regression rule."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rigs import conformance
from rigs.conformance import (
    ConformanceError,
    Report,
    SkipEntry,
    count_by_dir,
    format_report,
    parse_progress_line,
    parse_skip_list,
    read_results,
    skip_reason,
    split_dirs,
)

# ---- run-tests.py's results file and progress lines ---------------------------

# Three tests as run-tests.py sees them: one passes (CPython gives the expected
# output), one fails (its .exp says otherwise), one skips itself as upstream's do.
SMALL_SUITE = {
    "pass_me.py": "print(sum(range(10)))\n",
    "fail_me.py": "print('pyunik')\n",
    "fail_me.py.exp": "something else\n",
    "skip_me.py": "print('SKIP')\nraise SystemExit\n",
}


@pytest.fixture(scope="module")
def unix_port() -> Path:
    if shutil.which("make") is None or not (conformance.ROOT / "deps" / "micropython").is_dir():
        pytest.skip("no make or no deps/micropython: run ./bootstrap.sh")
    return conformance.build_unix_port(conformance.micropython_tree(), jobs=2)


@pytest.mark.ci_required
def test_statuses_come_from_run_tests_results_file(unix_port: Path, tmp_path: Path) -> None:
    """The real (patched) run-tests.py on the unix port: every test's status
    is read from its _results.json, skips included."""
    tree = conformance.prepare_tree(conformance.micropython_tree(), tmp_path)
    (tree / "tests" / "pyunik_t").mkdir()
    for name, text in SMALL_SUITE.items():
        (tree / "tests" / "pyunik_t" / name).write_text(text)
    tests = ["pyunik_t/pass_me.py", "pyunik_t/fail_me.py", "pyunik_t/skip_me.py"]
    result_dir = tmp_path / "results"
    statuses = conformance.run_unix(unix_port, tree, tests, result_dir, tmp_path / "unix.log")
    assert statuses == {"pyunik_t/pass_me.py": "pass", "pyunik_t/fail_me.py": "fail", "pyunik_t/skip_me.py": "skip"}
    assert json.loads((result_dir / conformance.RESULTS_FILE).read_text())["failed_tests"] == ["pyunik_t/fail_me.py"]


def test_no_results_file_means_run_tests_did_not_finish(tmp_path: Path) -> None:
    assert read_results(tmp_path) is None


def test_a_results_file_without_the_list_names_the_fix(tmp_path: Path) -> None:
    # What an unpatched MicroPython 1.25 writes: the failures only.
    (tmp_path / conformance.RESULTS_FILE).write_text(json.dumps({"args": {}, "failed_tests": ["a/b.py"]}))
    with pytest.raises(ConformanceError, match=r"no \"results\" list; fix: `invoke deps`"):
        read_results(tmp_path)


def test_a_results_file_with_an_unknown_status_is_refused(tmp_path: Path) -> None:
    (tmp_path / conformance.RESULTS_FILE).write_text(json.dumps({"results": [["a/b.py", "maybe", ""]]}))
    with pytest.raises(ConformanceError, match="unexpected result"):
        read_results(tmp_path)


def test_progress_lines_name_the_test_and_status() -> None:
    assert parse_progress_line("pass  basics/int1.py ") == ("basics/int1.py", "pass")
    assert parse_progress_line("skip  basics/sys_getsizeof.py") == ("basics/sys_getsizeof.py", "skip")
    assert parse_progress_line("FAIL  extmod/x.py (unittest: 2 ran, 1 failures, 0 errors)") == ("extmod/x.py", "fail")


@pytest.mark.parametrize(
    "line",
    [
        "platform=pyunik arch=x64",
        "527 tests performed (16307 individual testcases)",
        "13 tests skipped: builtin_range_binop class_inplace_op2",
        "1 tests failed: select_poll_fd",
        "NOTE: basics/x.py may be a unittest that doesn't run unittest.main()",
        "passing  basics/int1.py",
        "",
    ],
)
def test_other_lines_are_not_progress(line: str) -> None:
    assert parse_progress_line(line) is None


def test_progress_line_with_crlf_and_extra_info() -> None:
    assert parse_progress_line("FAIL  io/argv.py \r\n") == ("io/argv.py", "fail")
    assert parse_progress_line("pass  a/b.py (unittest: 1 ran, 1 skipped)") == ("a/b.py", "pass")


def test_split_dirs_takes_commas_and_spaces() -> None:
    assert split_dirs("basics,float  extmod/ ,") == ("basics", "float", "extmod")
    assert split_dirs("  ") == ()


# ---- the skip list ----------------------------------------------------------------

SKIP_TEXT = """\
# comment

extmod/vfs_*.py       pyunik  no VFS until storage exists
io/file_stdio*.py     pyunik  no file descriptors
io/file*.py           pyunik  no filesystem
extmod/machine1.py    both    needs unittest
"""


def test_parse_skip_list_entries() -> None:
    entries = parse_skip_list(SKIP_TEXT)
    assert entries[0] == SkipEntry("extmod/vfs_*.py", "pyunik", "no VFS until storage exists", 3)
    assert [e.scope for e in entries] == ["pyunik", "pyunik", "pyunik", "both"]


def test_skip_reason_first_match_and_scope() -> None:
    entries = parse_skip_list(SKIP_TEXT)
    assert skip_reason(entries, "extmod/vfs_lfs.py", "pyunik") == "no VFS until storage exists"
    assert skip_reason(entries, "extmod/vfs_lfs.py", "unix") is None
    assert skip_reason(entries, "io/file_stdio2.py", "pyunik") == "no file descriptors"
    assert skip_reason(entries, "io/file1.py", "pyunik") == "no filesystem"
    assert skip_reason(entries, "extmod/machine1.py", "unix") == "needs unittest"
    assert skip_reason(entries, "basics/int1.py", "pyunik") is None


def test_nodisk_scope_keeps_a_test_only_from_boards_without_a_disk() -> None:
    entries = parse_skip_list("io/file_stdio*.py pyunik no file descriptors\nio/file*.py nodisk no disk\n")
    assert skip_reason(entries, "io/file1.py", "pyunik") == "no disk"
    assert skip_reason(entries, "io/file1.py", "pyunik", disk=True) is None
    assert skip_reason(entries, "io/file1.py", "unix") is None
    assert skip_reason(entries, "io/file_stdio.py", "pyunik", disk=True) == "no file descriptors"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("io/file1.py pyunik", "needs PATTERN SCOPE REASON"),
        ("io/file1.py sometimes no filesystem", "scope 'sometimes' is unknown"),
        ("io/file1 pyunik no filesystem", "is not a test path"),
        ("file1.py pyunik no filesystem", "is not a test path"),
        ("/abs/file1.py pyunik no filesystem", "is not a test path"),
    ],
)
def test_skip_list_errors_name_the_line(line: str, message: str) -> None:
    with pytest.raises(ConformanceError, match=message) as info:
        parse_skip_list("# header\n" + line + "\n", "skip.txt")
    assert str(info.value).startswith("skip.txt:2: ")


def test_skip_list_refuses_duplicates() -> None:
    with pytest.raises(ConformanceError, match=r"skip.txt:2: 'a/b.py' is listed already on line 1"):
        parse_skip_list("a/b.py pyunik x\na/b.py both y\n", "skip.txt")


def test_the_repository_skip_list_is_valid() -> None:
    entries = conformance.load_skip_list()
    assert entries, "the skip list is empty"
    assert all(len(entry.reason) > 10 for entry in entries)


@pytest.mark.ci_required  # bootstrap.sh fetches deps/: in CI this must run
def test_every_skip_entry_matches_a_pinned_test() -> None:
    tests_dir = conformance.ROOT / "deps" / "micropython" / "tests"
    if not tests_dir.is_dir():
        pytest.skip("the pinned MicroPython tree is not in deps/ (invoke deps)")
    tests = [str(p.relative_to(tests_dir)) for p in tests_dir.glob("*/*.py")]
    stale = [e.pattern for e in conformance.load_skip_list() if not any(e.matches(t) for t in tests)]
    assert not stale, f"skip-list entries matching no test in the pinned tree: {stale}"


def test_discover_tests_and_unknown_directory(tmp_path: Path) -> None:
    (tmp_path / "basics").mkdir()
    for name in ("b.py", "a.py", "a.py.exp"):
        (tmp_path / "basics" / name).write_text("")
    assert conformance.discover_tests(tmp_path, ["basics"]) == ["basics/a.py", "basics/b.py"]
    with pytest.raises(ConformanceError, match=r"no test directory 'nope'.*choose from: basics"):
        conformance.discover_tests(tmp_path, ["nope"])


# ---- counts and the rule ------------------------------------------------------------


def make_report(pyunik: dict[str, str], unix: dict[str, str]) -> Report:
    tests = sorted(set(pyunik) | set(unix))
    listed = {t: "why" for t, s in pyunik.items() if s == "listed"}
    return Report("qemu-microvm", ("basics", "float"), tests, pyunik, unix, listed)


def test_regressions_are_tests_worse_on_pyunik() -> None:
    report = make_report(
        pyunik={
            "basics/a.py": "pass",
            "basics/b.py": "fail",  # passes on unix: regression
            "basics/c.py": "fail",  # fails on unix too: not one
            "basics/d.py": "skip",  # passes on unix: regression
            "basics/e.py": "skip",  # skipped on unix too
            "basics/f.py": "listed",  # in the skip list
            "float/g.py": "fail",  # skipped on unix: regression (a pyunik failure unix does not have)
            "float/h.py": "missing",  # never reported: regression
        },
        unix={
            "basics/a.py": "pass",
            "basics/b.py": "pass",
            "basics/c.py": "fail",
            "basics/d.py": "pass",
            "basics/e.py": "skip",
            "basics/f.py": "pass",
            "float/g.py": "skip",
            "float/h.py": "pass",
        },
    )
    assert report.regressions == ["basics/b.py", "basics/d.py", "float/g.py", "float/h.py"]
    assert report.failures("pyunik") == ["basics/b.py", "basics/c.py", "float/g.py", "float/h.py"]
    assert report.failures("unix") == ["basics/c.py"]


def test_counts_and_report_side_by_side(tmp_path: Path) -> None:
    report = make_report(
        pyunik={"basics/a.py": "pass", "basics/b.py": "listed", "float/c.py": "fail"},
        unix={"basics/a.py": "pass", "basics/b.py": "pass", "float/c.py": "pass"},
    )
    counts = count_by_dir(report.pyunik)
    assert (counts["basics"].passed, counts["basics"].listed, counts["float"].failed) == (1, 1, 1)
    text = format_report(report)
    rows = {line.split()[0]: line.split() for line in text.splitlines()[2:5]}
    assert rows["basics"] == ["basics", "1", "0", "0", "1", "|", "2", "0", "0", "0"]
    assert rows["float"] == ["float", "0", "1", "0", "0", "|", "1", "0", "0", "0"]
    assert rows["total"] == ["total", "1", "1", "0", "1", "|", "3", "0", "0", "0"]
    assert "float/c.py: pyunik fail, unix pass" in text
    assert "flaky" not in text
    # A test that failed, then passed on a fresh boot: its own status and
    # column, listed by name, never counted as passed, not a regression.
    report.pyunik["basics/b.py"] = "flaky"
    report.flaky = ["basics/b.py"]
    flaky_text = format_report(report)
    assert "flaky on pyunik (failed, then passed on a fresh boot; not counted as passed): 1: basics/b.py" in flaky_text
    flaky_rows = {line.split()[0]: line.split() for line in flaky_text.splitlines()[2:5]}
    assert flaky_rows["basics"] == ["basics", "1", "0", "0", "0", "(+1", "flaky)", "|", "2", "0", "0", "0"]
    assert "basics/b.py" not in report.regressions
    report.pyunik["basics/b.py"] = "listed"
    report.flaky = []

    conformance.write_report(report, tmp_path)
    assert (tmp_path / "failures-pyunik.txt").read_text() == "float/c.py\n"
    assert (tmp_path / "failures-unix.txt").read_text() == ""
    assert (tmp_path / "regressions.txt").read_text() == "float/c.py\n"
    assert "basics" in (tmp_path / "report.txt").read_text()
