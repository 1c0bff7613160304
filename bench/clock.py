"""The guest's clocks against the host's over a minute (issue 15: within 0.1% over 60 s under TCG).

Each board boots to its REPL; the host asks for time.ticks_ms() and
time.time_ns() twice, INTERVAL seconds apart, noting its own monotonic clock
just before each question and just after each answer (the same bracketing as
tests/hil/test_clock.py, which checks 10 s in CI). The guest's elapsed time
is set against the middle of the host's bracket; the bracket's half-width
(serial round trips) is recorded beside it, so a reader can see how much of
a figure is measurement.
"""

from __future__ import annotations

import re
import time
from typing import Any

import serial

from bench import common
from pyunik import vm

BOARDS = ("qemu-microvm", "qemu-q35")
INTERVAL = 60.0
QUICK_INTERVAL = 10.0
GOAL_PERCENT = 0.1
QUESTION = b"print('CLOCK', time.ticks_ms(), time.time_ns())\r"
_ANSWER = re.compile(rb"CLOCK (\d+) (\d+)")


def _ask(console: serial.Serial) -> tuple[int, int, float, float]:
    before = time.monotonic()
    console.write(QUESTION)
    out = console.read_until(b">>> ")
    after = time.monotonic()
    match = _ANSWER.search(out)
    if match is None:
        raise common.BenchError(f"no CLOCK answer from the guest: {out[-300:]!r}")
    return int(match.group(1)), int(match.group(2)), before, after


def measure(board: str, interval: float) -> dict[str, Any]:
    image = common.image(board)
    command = vm.qemu_command(image.board, image.elf, serial="stdio", plugin_args=image.qemu_args)
    running = vm.start_with_pty(command)
    try:
        console = running.console(timeout=30)
        for line in (b"", b"import time\r"):
            console.write(line)
            if not console.read_until(b">>> ").endswith(b">>> "):
                raise common.BenchError(f"{board}: no REPL prompt")
        ticks0, ns0, before0, after0 = _ask(console)
        time.sleep(interval)
        ticks1, ns1, before1, after1 = _ask(console)
    finally:
        running.close()
    shortest, longest = before1 - after0, after1 - before0
    host = (shortest + longest) / 2
    half = (longest - shortest) / 2

    def drift(guest_s: float) -> float:
        return round((guest_s / host - 1) * 100, 4)

    return {
        "host_seconds": round(host, 4),
        "bracket_percent": round(half / host * 100, 4),
        "ticks_ms_drift_percent": drift((ticks1 - ticks0) / 1000),
        "time_ns_drift_percent": drift((ns1 - ns0) / 1e9),
    }


def run(quick: bool = False) -> dict[str, object]:
    interval = QUICK_INTERVAL if quick else INTERVAL
    result: dict[str, Any] = {"interval_s": interval, "goal_percent": GOAL_PERCENT, "boards": {}}
    for board in BOARDS:
        entry = measure(board, interval)
        worst = max(abs(entry["ticks_ms_drift_percent"]), abs(entry["time_ns_drift_percent"]))
        entry["goal_met"] = worst <= GOAL_PERCENT
        result["boards"][board] = entry
        common.log(
            f"clock: {board}: ticks_ms {entry['ticks_ms_drift_percent']:+.4f}%, time_ns "
            f"{entry['time_ns_drift_percent']:+.4f}% over {entry['host_seconds']:.1f} s "
            f"(bracket +-{entry['bracket_percent']:.4f}%)"
        )
    return result
