"""Interpreter speed: tests/perf_bench on pyunik, on the unix port in a Linux guest and under qemu-user.

The programs are the upstream ones, assembled exactly as tests/run-perfbench.py
assembles them (the test, then perf_bench/benchrun.py, then ``bm_run(N, M)``),
with the same N (a CPU speed in MHz) and M (a heap in KiB) on both sides. Each
prints its own timing from the interpreter's ticks_us. run-perfbench.py itself
wants a board on a serial port or a local executable; here:

- pyunik: a fresh boot of the default board per run, the script pasted over
  the raw REPL (mpremote's protocol), under qemu-system TCG;
- the unix port from the same tree inside the Linux guest (bench/linux.py)
  under the same qemu-system TCG and machine as pyunik: the like-for-like
  comparison. One boot per round runs every program, each in a fresh
  process (/bench/perf.sh), with both unix-port builds;
- the unix port under Debian's qemu-user (qemu-x86_64): the same TCG
  translator, but no softmmu, so memory accesses are cheaper there.

The unix port runs in both builds (bench/unixport.py): "upstream" as upstream
configures it, "tuned" with pyunik's interpreter settings. All get the same
heap: the unix port's -X heapsize is set to pyunik's heap at the board's -m.
A ratio is the other platform's time over pyunik's (above 1: pyunik is
faster); each platform's summary is the geometric mean over the programs that
ran on it and on pyunik with the same result. A program that fails on one side
(core_import_mpy_* need a VFS, which pyunik does not have) is listed with the
reason and left out. Rounds alternate the platforms, so that host load hits
all alike.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from bench import common, linux, unixport
from bench.common import Stats

PERF_DIR = common.MICROPYTHON / "tests" / "perf_bench"
HEADER = "import sys\ntry:\n    sys.path.remove('')\nexcept (ValueError, AttributeError):\n    pass\n\n"
N, M = 1000, 1000
RUN_TIMEOUT = 120.0
#: One Linux boot runs all programs with both builds (~20 min of budget for ~45 runs under TCG).
LINUX_TIMEOUT = 1200.0
#: The platforms beside pyunik, each a unix-port build in a place.
OTHERS = ("linux-guest", "linux-guest/tuned", "qemu-user", "qemu-user/tuned")
_PERF_LINE = re.compile(r"^PERF (\S+) (micropython(?:-tuned)?) (.*)$", re.M)
_RESULT = re.compile(r"^(-?\d+) (-?\d+) (.*)$", re.M)
_heap: dict[str, int] = {}


def programs() -> list[Path]:
    return sorted(p for p in PERF_DIR.glob("*.py") if p.name != "benchrun.py")


def script(path: Path) -> str:
    """The program as run-perfbench.py sends it to a target."""
    bench = (PERF_DIR / "benchrun.py").read_text()
    return HEADER + path.read_text() + bench + f"bm_run({N}, {M})\n"


def pyunik_heap(board: str = "qemu-microvm") -> int:
    """pyunik's heap in bytes at the board's -m: what the unix port is given too."""
    if board not in _heap:
        with common.Console(common.pyunik_argv(board)) as console:
            console.expect_or_fail(b">>> ", 30)
            out, err, _ = common.raw_exec(console, "import gc\nprint(gc.mem_free() + gc.mem_alloc())\n", 30)
        if err.strip() or not out.strip().isdigit():
            raise common.BenchError(f"could not read pyunik's heap size: {out!r} {err!r}")
        _heap[board] = int(out.strip())
    return _heap[board]


def _parse(output: str, error: str = "") -> tuple[int, str] | str:
    """(microseconds, result) or the reason it did not run."""
    if error.strip():
        return "error: " + error.strip().splitlines()[-1][:200]
    match = _RESULT.search(output.replace("\r", ""))
    if match is None:
        return "no result: " + output.strip()[-200:]
    us, norm, result = int(match.group(1)), int(match.group(2)), match.group(3)
    if us < 0 or norm < 0:
        return result[:200]
    return us, result


def run_pyunik(text: str, board: str = "qemu-microvm") -> tuple[int, str] | str:
    try:
        with common.Console(common.pyunik_argv(board)) as console:
            console.expect_or_fail(b">>> ", 30)
            out, err, _ = common.raw_exec(console, text, RUN_TIMEOUT)
    except common.BenchError as exc:
        return f"error: {str(exc)[:200]}"
    return _parse(out, err)


def run_qemu_user(path: Path, heap: int, which: str = unixport.UPSTREAM) -> tuple[int, str] | str:
    done = common.run(unixport.qemu_user_argv(heap, path, which=which), RUN_TIMEOUT, env=unixport.env())
    if done.timed_out:
        return f"timed out after {RUN_TIMEOUT:.0f} s"
    text = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        return f"exit {done.returncode}: " + (text.strip().splitlines() or [""])[-1][:200]
    return _parse(text)


def clock_check(board: str = "qemu-microvm") -> dict[str, float]:
    """pyunik's ticks_us against the host's clock over a ~1 s busy loop: the
    guest's times are only comparable with the unix port's if its clock runs true."""
    code = (
        "import time\nt0 = time.ticks_us()\nx = 0\n"
        "while time.ticks_diff(time.ticks_us(), t0) < 1000000:\n    x += 1\n"
        "print(time.ticks_diff(time.ticks_us(), t0))\n"
    )
    with common.Console(common.pyunik_argv(board)) as console:
        console.expect_or_fail(b">>> ", 30)
        start = time.perf_counter()
        out, _, _ = common.raw_exec(console, code, 60)
        host = time.perf_counter() - start
    guest = int(out.strip()) / 1e6
    return {"guest_s": round(guest, 4), "host_s": round(host, 4), "guest_over_host": round(guest / host, 3)}


def run_linux_round(heap: int) -> dict[str, dict[str, tuple[int, str] | str]]:
    """One boot of the Linux guest (same machine as pyunik, its -m) running every
    program once with each build: platform -> program -> (us, result) or the reason."""
    argv = linux.argv("qemu-microvm", linux.MEMORY, f"/bench/perf.sh {heap} 1")
    got: dict[str, dict[str, tuple[int, str] | str]] = {"linux-guest": {}, "linux-guest/tuned": {}}
    with common.Console(argv) as console:
        done = console.wait_exit(LINUX_TIMEOUT)
        output = console.buffer.decode(errors="replace").replace("\r", "")
    for program, binary, line in _PERF_LINE.findall(output):
        platform = "linux-guest/tuned" if binary.endswith("-tuned") else "linux-guest"
        got[platform][program] = _parse(line)
    if done is None or not got["linux-guest"]:
        reason = f"linux guest: {'timed out' if done is None else f'QEMU status {done[0]}'}: {output[-300:]!r}"
        for platform in got:
            for path in programs():
                got[platform].setdefault(path.stem, reason)
    return got


def run(quick: bool) -> dict[str, object]:
    repeats = 1 if quick else 3
    heap = pyunik_heap()
    work = common.WORK / "perf_bench"
    work.mkdir(parents=True, exist_ok=True)
    for which in unixport.BUILDS:
        unixport.build(which)
    paths = programs()
    for path in paths:
        (work / path.name).write_text(script(path))
    sides = ("pyunik", *OTHERS)
    times: dict[str, dict[str, list[float]]] = {p.stem: {side: [] for side in sides} for p in paths}
    results: dict[str, dict[str, str]] = {p.stem: {} for p in paths}
    problems: dict[str, dict[str, str]] = {p.stem: {} for p in paths}

    def record(program: str, side: str, got: tuple[int, str] | str) -> None:
        if isinstance(got, str):
            problems[program].setdefault(side, got)
        else:
            times[program][side].append(got[0] / 1e6)
            results[program].setdefault(side, got[1])

    for round_ in range(repeats):  # rounds alternate the platforms, so that host load hits all alike
        for path in paths:
            if problems[path.stem].get("pyunik"):
                continue
            record(path.stem, "pyunik", run_pyunik(script(path)))
            for which, side in ((unixport.UPSTREAM, "qemu-user"), (unixport.TUNED, "qemu-user/tuned")):
                record(path.stem, side, run_qemu_user(work / path.name, heap, which))
        common.log(f"perf round {round_ + 1}/{repeats}: pyunik and qemu-user done; the Linux guest runs them all")
        for side, by_program in run_linux_round(heap).items():
            for program, got in by_program.items():
                if program in times:
                    record(program, side, got)

    rows: dict[str, Any] = {}
    ratios: dict[str, dict[str, float]] = {side: {} for side in OTHERS}
    for path in paths:
        name = path.stem
        row: dict[str, Any] = {}
        for side in sides:
            if times[name][side]:
                row[f"{side}_ms"] = Stats.of(times[name][side]).as_dict(1000)
        if problems[name]:
            row["problems"] = problems[name]
        row["speed_ratio"] = {}
        for side in OTHERS:
            if side in problems[name] or "pyunik" in problems[name] or not times[name][side]:
                continue
            if results[name].get(side) != results[name].get("pyunik"):
                row.setdefault("results_differ", {})[side] = f"{results[name].get(side)!r}"[:200]
                continue
            value = Stats.of(times[name][side]).median / Stats.of(times[name]["pyunik"]).median
            row["speed_ratio"][side] = round(value, 3)
            ratios[side][name] = value
        rows[name] = row
        shown = ", ".join(f"{k} {v:.2f}x" for k, v in row["speed_ratio"].items())
        common.log(
            f"perf {name}: {shown or 'not compared'}"
            + (f"; problems: {problems[name]}"[:200] if problems[name] else "")
        )
    geomeans = {side: round(common.geomean(list(r.values())), 3) if r else None for side, r in ratios.items()}
    spread = {side: [round(min(r.values()), 2), round(max(r.values()), 2)] if r else None for side, r in ratios.items()}
    return {
        "what": f"tests/perf_bench, N={N} M={M}; speed ratio = other platform's time / pyunik's (>1: pyunik faster)",
        "ratio_base": "pyunik/qemu-microvm (qemu-system TCG, -m of the board); the other side is named in each key",
        "repeats": repeats,
        "heap_bytes": heap,
        "linux_memory": linux.MEMORY,
        "programs": rows,
        "geomean_speed_ratio": geomeans,
        "speed_ratio_range": spread,
        "compared": {side: len(r) for side, r in ratios.items()},
        "clock_check": clock_check(),
        "unix_port": unixport.describe(),
    }
