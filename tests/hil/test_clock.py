"""The guest's clocks against the host's: a miscalibrated TSC or RTC cannot pass.

The guest is asked for time.ticks_ms() and time.time() twice, some seconds
apart, over the serial console. The host notes its own monotonic and wall
clocks just before each question and just after each answer, so the guest's
reading lies between the two: the guest's elapsed time must fall within the
host's shortest and longest possible interval, widened by a tolerance.

The tolerance is issue 15's goal, 0.1%: under QEMU's TCG the guest's TSC
is the host's, so once its rate is measured right the guest's clock keeps
the host's however little the vCPU runs. (The rate measured against the PIT
used to come out 0.5% high, because the last TSC read of the measurement ran
behind a fresh TCG translation; that clock fails here.) Over INTERVAL
seconds 0.1% is 10 ms, beside a serial round trip of 1-10 ms that the
bracketing already accounts for; the 60-second figure is in
`invoke bench --only clock` (bench/clock.py). time.time_ns() runs on the same clock from the
RTC's reading at its first use, so its elapsed time gets the same check;
time.time() (from the CMOS RTC, whole seconds) is checked against the host's
wall clock directly, within 2 s.
"""

from __future__ import annotations

import re
import time

import serial
from conftest import Guest

#: Seconds between the two readings.
INTERVAL = 10.0
#: Relative error allowed on the guest's elapsed ticks (see the module docstring).
TOLERANCE = 0.001
#: ticks_ms counts whole milliseconds: one for each reading.
TICK_SLACK_S = 0.002
#: The RTC counts whole seconds: one for each reading's truncation, and one for the RTC's own update edge.
RTC_SLACK_S = 2.0

QUESTION = "print('CLOCK', time.ticks_ms(), time.time(), time.time_ns())"
_ANSWER = re.compile(r"CLOCK (\d+) (\d+(?:\.\d+)?) (\d+)")


def ask(console: serial.Serial) -> tuple[int, float, int, float, float, float]:
    """(guest ticks_ms, time(), time_ns(), host monotonic before, host monotonic after, host wall before).

    The console is read with pyserial directly (a blocking read returns as the
    prompt arrives): a reader that polls would widen the bracket by its period.
    """
    wall = time.time()
    before = time.monotonic()
    console.write(QUESTION.encode() + b"\r")
    out = console.read_until(b">>> ").decode(errors="replace")
    after = time.monotonic()
    match = _ANSWER.search(out)
    assert match, out
    return int(match.group(1)), float(match.group(2)), int(match.group(3)), before, after, wall


def test_ticks_and_time_follow_the_host_clock(guest: Guest) -> None:
    console = guest.console(timeout=20)
    assert console.read_until(b">>> ").endswith(b">>> ")
    console.write(b"import time\r")
    assert console.read_until(b">>> ").endswith(b">>> ")
    ticks0, time0, ns0, before0, after0, wall0 = ask(console)
    time.sleep(INTERVAL)
    ticks1, time1, ns1, before1, after1, wall1 = ask(console)
    console.close()

    guest_s = (ticks1 - ticks0) / 1000  # ticks_ms does not wrap in a few seconds after boot
    shortest, longest = before1 - after0, after1 - before0
    print(f"\nguest ticks {guest_s:.3f} s; host between {shortest:.3f} and {longest:.3f} s")
    assert shortest * (1 - TOLERANCE) - TICK_SLACK_S <= guest_s <= longest * (1 + TOLERANCE) + TICK_SLACK_S, (
        f"ticks_ms advanced {guest_s:.3f} s while the host's clock advanced {shortest:.3f}..{longest:.3f} s "
        f"(tolerance {TOLERANCE:.1%})"
    )
    wall_s = (ns1 - ns0) / 1e9
    assert shortest * (1 - TOLERANCE) <= wall_s <= longest * (1 + TOLERANCE), (
        f"time_ns() advanced {wall_s:.4f} s while the host's clock advanced {shortest:.3f}..{longest:.3f} s"
    )

    # time.time() is UTC from the RTC, which QEMU starts from the host's clock.
    assert abs(time0 - wall0) <= RTC_SLACK_S, f"guest time() {time0} vs host {wall0:.1f}"
    assert abs(time1 - wall1) <= RTC_SLACK_S, f"guest time() {time1} vs host {wall1:.1f}"
    elapsed = time1 - time0
    assert shortest * (1 - TOLERANCE) - RTC_SLACK_S <= elapsed <= longest * (1 + TOLERANCE) + RTC_SLACK_S, (
        f"time() advanced {elapsed} s while the host's clock advanced {shortest:.3f}..{longest:.3f} s"
    )
