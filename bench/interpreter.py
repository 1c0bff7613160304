"""Interpreter speed: MicroPython's own tests/perf_bench, on pyunik and on the unix port under qemu-user.

The programs are the upstream ones, assembled exactly as tests/run-perfbench.py
assembles them (the test, then perf_bench/benchrun.py, then ``bm_run(N, M)``),
with the same N (a CPU speed in MHz) and M (a heap in KiB) on both sides. Each
prints its own timing from the interpreter's ticks_us. run-perfbench.py itself
wants a board on a serial port or a local executable; here:

- pyunik: a fresh boot of the default board per run, the script pasted over
  the raw REPL (mpremote's protocol), under qemu-system TCG;
- the unix port from the same tree under Debian's qemu-user (qemu-x86_64):
  the same TCG translator, but no softmmu, so memory accesses are cheaper there.

Both get the same heap: the unix port's -X heapsize is set to pyunik's heap at
the board's -m. A run's ratio is qemu-user's time over pyunik's (above 1:
pyunik is faster); the summary is the geometric mean over the programs that
ran on both. A program that fails on one side (core_import_mpy_* need a VFS,
which pyunik does not have) is listed with the reason and left out.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from bench import common, unixport
from bench.common import Stats

PERF_DIR = common.MICROPYTHON / "tests" / "perf_bench"
HEADER = "import sys\ntry:\n    sys.path.remove('')\nexcept (ValueError, AttributeError):\n    pass\n\n"
N, M = 1000, 1000
RUN_TIMEOUT = 120.0
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


def run_qemu_user(path: Path, heap: int) -> tuple[int, str] | str:
    done = common.run(unixport.qemu_user_argv(heap, path), RUN_TIMEOUT, env=unixport.env())
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


def run(quick: bool) -> dict[str, object]:
    repeats = 1 if quick else 5
    heap = pyunik_heap()
    work = common.WORK / "perf_bench"
    work.mkdir(parents=True, exist_ok=True)
    unixport.build()
    rows: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    for path in programs():
        text = script(path)
        target = work / path.name
        target.write_text(text)
        times: dict[str, list[float]] = {"pyunik": [], "qemu-user": []}
        results: dict[str, str] = {}
        problems: dict[str, str] = {}
        for _ in range(repeats):  # alternate, so that host load hits both alike
            for side, got in (("pyunik", run_pyunik(text)), ("qemu-user", run_qemu_user(target, heap))):
                if isinstance(got, str):
                    problems.setdefault(side, got)
                else:
                    times[side].append(got[0] / 1e6)
                    results.setdefault(side, got[1])
            if problems:
                break
        row: dict[str, Any] = {}
        for side in times:
            if times[side]:
                row[f"{side}_ms"] = Stats.of(times[side]).as_dict(1000)
        if problems:
            row["skipped"] = problems
        elif results.get("pyunik") != results.get("qemu-user"):
            row["skipped"] = {"results differ": f"{results.get('pyunik')!r} vs {results.get('qemu-user')!r}"[:300]}
        else:
            ratio = Stats.of(times["qemu-user"]).median / Stats.of(times["pyunik"]).median
            row["speed_ratio"] = round(ratio, 3)
            ratios[path.stem] = ratio
        rows[path.stem] = row
        shown = f"{row['speed_ratio']:.2f}x" if "speed_ratio" in row else f"skipped ({row['skipped']})"[:120]
        common.log(f"perf {path.stem}: {shown}")
    return {
        "what": f"tests/perf_bench, N={N} M={M}; speed ratio = qemu-user time / pyunik time (>1: pyunik faster)",
        "repeats": repeats,
        "heap_bytes": heap,
        "programs": rows,
        "geomean_speed_ratio": round(common.geomean(list(ratios.values())), 3) if ratios else None,
        "compared": len(ratios),
        "clock_check": clock_check(),
        "unix_port": unixport.describe(),
    }
