"""gdb on the running guest through QEMU's gdbstub (Debian's gdb, batch mode).

gdb attaches to a guest already at its REPL, breaks in a builtin that a REPL
line reaches, reads its argument with the MicroPython helper
(tools/gdb/pyunik.py), detaches, and the REPL answers on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import BOARD, Guest

from pyunik import debug, vm


@pytest.fixture
def guest(image_for) -> Iterator[Guest]:  # type: ignore[no-untyped-def]
    """The default board, booted with its gdbstub on a free port (not waiting for gdb)."""
    if shutil.which(debug.GDB) is None:
        reason = "gdb is not installed (./bootstrap.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    image = image_for(BOARD)
    port = vm.free_port()
    command = vm.qemu_command(image.board, image.elf, plugin_args=image.qemu_args, gdb_port=port)
    running = Guest(image.board, vm.start_with_pty(command), command.argv)
    running.gdb_port = port  # type: ignore[attr-defined]
    running.elf = image.elf  # type: ignore[attr-defined]
    yield running
    running.stop()


class GdbOutput:
    """gdb's output as it comes, for waiting on a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.text += line

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert time.monotonic() < deadline, f"gdb never printed {needle!r}; it printed:\n{self.text}"
            time.sleep(0.05)


def gdb_batch(guest: Guest, repl, commands: list[str], line: str) -> str:  # type: ignore[no-untyped-def]
    """Run gdb in batch mode on the guest; once its breakpoint is set, type
    ``line`` at the REPL (the UART holds it while gdb has the guest stopped).
    Returns gdb's output, after gdb exited 0."""
    proc = subprocess.Popen(
        debug.gdb_argv(guest.elf, guest.gdb_port, commands, batch=True),  # type: ignore[attr-defined]
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = GdbOutput(proc)
        # gdb has stopped the guest; `continue` inserts the breakpoint before
        # the guest runs again, so the line may be typed now.
        out.wait_for("Breakpoint 1 at")
        repl.line(line)
        assert proc.wait(timeout=60) == 0, out.text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out._thread.join(timeout=5)
    return out.text


def test_gdb_breaks_in_a_builtin_reads_its_argument_and_the_repl_goes_on(guest, repl) -> None:  # type: ignore[no-untyped-def]
    assert "42" in repl.run("print(6 * 7)")
    commands = [
        "break mp_builtin_hash",
        "continue",
        "mp-obj o_in",
        "print mp_state_ctx.thread.gc_lock_depth",
        "bt 4",
        "detach",
    ]
    text = gdb_batch(guest, repl, commands, "hash('pyunik')")
    assert "Breakpoint 1, mp_builtin_hash" in text, text
    assert "str 'pyunik'" in text, text
    assert "$1 = 0" in text, text  # the GC is not locked in a builtin
    assert "mp_call_function" in text or "fun_builtin" in text, text
    # Detached: the guest runs on, the line finishes and the REPL answers.
    repl.expect(">>> ")
    assert "7" in repl.run("print(3 + 4)")


def test_gdb_prints_the_python_traceback_of_an_exception_being_raised(guest, repl) -> None:  # type: ignore[no-untyped-def]
    repl.keys("def parse(text): return int(text)\r\r")  # an empty line ends the definition
    repl.expect(">>> ")
    # The first nlr_jump is the raise inside int(); the second is the
    # re-raise out of parse(), when the VM has added parse's frame.
    commands = ["break nlr_jump", "ignore 1 1", "continue", "mp-traceback val", "detach"]
    text = gdb_batch(guest, repl, commands, "parse('pyunik')")
    assert 'File "<stdin>", line 1, in parse' in text, text
    assert "ValueError: invalid syntax for integer with base 10: 'pyunik'" in text, text
    repl.expect(">>> ")
    assert "7" in repl.run("print(3 + 4)")
