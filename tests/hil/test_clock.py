"""The guest's clocks against the host's: a miscalibrated TSC or RTC cannot pass.

The guest is asked for time.ticks_ms() and time.time() twice, some seconds
apart, over the serial console. The host notes its own monotonic and wall
clocks just before each question and just after each answer, so the guest's
reading lies between the two: the guest's elapsed time must fall within the
host's shortest and longest possible interval, widened by a tolerance.

The tolerance is honest for TCG, not for hardware: under QEMU's TCG the
guest's TSC is the host's, but a vCPU that does not run for a while (the
host is shared) and the PIT calibration on a busy host leave the tick rate
off by up to about 1% (0.6-1% slow measured in issue 15, which will tighten
it). 3% lets that pass and still fails a clock off by a calibration error
(a rate read wrong by a factor, the 1.193 MHz PIT taken for 1 MHz: 19%).
time.time() comes from the CMOS RTC (whole seconds), so it is also checked
against the host's wall clock directly, within 2 s.
"""

from __future__ import annotations

import re
import time

from conftest import Repl

#: Seconds between the two readings: "a few", so the serial round trip (tens of ms) is small beside it.
INTERVAL = 5.0
#: Relative error allowed on the guest's elapsed ticks (see the module docstring).
TOLERANCE = 0.03
#: The RTC counts whole seconds: one for each reading's truncation, and one for the RTC's own update edge.
RTC_SLACK_S = 2.0

QUESTION = "print('CLOCK', time.ticks_ms(), time.time())"
_ANSWER = re.compile(r"CLOCK (\d+) (\d+(?:\.\d+)?)")


def ask(repl: Repl) -> tuple[int, float, float, float, float]:
    """(guest ticks_ms, guest time(), host monotonic before, host monotonic after, host wall before)."""
    wall = time.time()
    before = time.monotonic()
    out = repl.run(QUESTION)
    after = time.monotonic()
    match = _ANSWER.search(out)
    assert match, out
    return int(match.group(1)), float(match.group(2)), before, after, wall


def test_ticks_and_time_follow_the_host_clock(repl: Repl) -> None:
    repl.run("import time")
    ticks0, time0, before0, after0, wall0 = ask(repl)
    time.sleep(INTERVAL)
    ticks1, time1, before1, after1, wall1 = ask(repl)

    guest_s = (ticks1 - ticks0) / 1000  # ticks_ms does not wrap in a few seconds after boot
    shortest, longest = before1 - after0, after1 - before0
    print(f"\nguest ticks {guest_s:.3f} s; host between {shortest:.3f} and {longest:.3f} s")
    assert shortest * (1 - TOLERANCE) <= guest_s <= longest * (1 + TOLERANCE), (
        f"ticks_ms advanced {guest_s:.3f} s while the host's clock advanced {shortest:.3f}..{longest:.3f} s "
        f"(tolerance {TOLERANCE:.0%})"
    )

    # time.time() is UTC from the RTC, which QEMU starts from the host's clock.
    assert abs(time0 - wall0) <= RTC_SLACK_S, f"guest time() {time0} vs host {wall0:.1f}"
    assert abs(time1 - wall1) <= RTC_SLACK_S, f"guest time() {time1} vs host {wall1:.1f}"
    elapsed = time1 - time0
    assert shortest * (1 - TOLERANCE) - RTC_SLACK_S <= elapsed <= longest * (1 + TOLERANCE) + RTC_SLACK_S, (
        f"time() advanced {elapsed} s while the host's clock advanced {shortest:.3f}..{longest:.3f} s"
    )
