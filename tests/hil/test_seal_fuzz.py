"""Random bytes on the serial console for a fixed budget: the REPL and Ctrl-C still work, nothing faulted.

The bytes include every control character the REPL acts on (Ctrl-A raw
REPL, Ctrl-B back, Ctrl-C, Ctrl-D soft reset, Ctrl-E paste mode, escape
sequences) and whatever Python the noise happens to spell. The budget is
bounded in bytes and in time; the generator is seeded so that a failure
can be replayed. Afterwards the test leaves raw and paste mode the way a
user would and expects a working prompt and no fault dump.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from conftest import Guest, Repl

SEED = 16
BYTES = 24_000
CHUNK = 64
BUDGET_S = 40.0


def test_random_bytes_on_the_console_leave_a_working_repl(repl: Repl, guest: Guest) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    sent = 0
    while sent < BYTES and time.monotonic() - started < BUDGET_S:
        repl.keys(rng.randbytes(CHUNK))
        sent += CHUNK
        time.sleep(0.01)
    assert sent >= BYTES // 4, f"only {sent} bytes in {BUDGET_S} s"
    time.sleep(1.5)  # input the guest dropped while busy: its 1 s rule
    # Out of paste mode (Ctrl-C), raw mode (Ctrl-B), whatever runs (Ctrl-C).
    for keys in (b"\x03", b"\x02", b"\x03\x03", b"\r"):
        repl.keys(keys)
        time.sleep(0.3)
    assert guest.proc.poll() is None, "QEMU ended during the fuzz"
    repl.line("print(6 * 7)")
    repl.expect("42\r\n>>> ", timeout=30)
    # Ctrl-C still interrupts a running program.
    repl.line("while True: pass")
    repl.line("")
    time.sleep(0.5)
    repl.keys("\x03")
    repl.expect("KeyboardInterrupt: \r\n>>> ", timeout=20)
    # Everything the guest printed, from pytest-embedded's log of the console.
    log = Path(repl.dut.logfile).read_text(errors="replace")
    assert "CPU exception" not in log and "stack smashing" not in log and "pvboot:" not in log
    print(f"\nsent {sent} random bytes (seed {SEED}) in {time.monotonic() - started:.1f} s")
