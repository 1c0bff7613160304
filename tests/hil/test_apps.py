"""Apps frozen into the image: boot order, exit status, argv, read-only code."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from conftest import APPS, EXAMPLES, boot

from pyunik import board as boards

# The invoke of this Python environment (the venv), not whatever is on PATH.
INVOKE = [sys.executable, "-m", "invoke"]


def run_app(image_for, app, cmdline: str | None = None, timeout: float = 60):  # type: ignore[no-untyped-def]
    """Boot an app image to its end; returns (guest status, console text).

    A guest still running after ``timeout`` seconds fails the test (with the
    console's tail), and is stopped: an app that never exits costs a bounded time.
    """
    image = image_for(boards.DEFAULT_BOARD, app)  # built before the clock starts
    guest = boot(image, cmdline=cmdline)
    deadline = time.monotonic() + timeout
    try:
        port = guest.console(timeout=0.2)
        output = b""
        status = None
        while status is None:
            output += port.read(4096)
            if guest.proc.poll() is not None:
                output += port.read(4096)
                status = guest.wait()
            elif time.monotonic() > deadline:
                port.close()
                pytest.fail(f"{app.name}: the guest did not exit within {timeout:.0f} s; console: {output[-300:]!r}")
        port.close()
        return status, output.decode(errors="replace")
    finally:
        guest.stop()


def test_hello_prints_and_exits_zero(image_for) -> None:  # type: ignore[no-untyped-def]
    status, out = run_app(image_for, EXAMPLES / "hello")
    assert "Hello from pyunik on qemu-microvm - arguments: []" in out
    assert status == 0


def test_argv_and_options_reach_the_app(image_for) -> None:  # type: ignore[no-untyped-def]
    status, out = run_app(image_for, EXAMPLES / "json-batch", cmdline="limit=10 -- [1,2,3]")
    assert '{"count": 3, "max": 3, "mean": 2.0, "over_limit": [], "sum": 6}' in out
    assert status == 0


@pytest.mark.parametrize(
    ("cmdline", "status", "expected"),
    [
        ("-- [1,200,3]", 3, '"over_limit": [200]'),
        ("limit=500 -- [1,200,3]", 0, '"over_limit": []'),
        ("-- [1,oops]", 2, "not JSON"),
        ("", 2, "usage:"),
    ],
)
def test_exit_status_depends_on_input(image_for, cmdline: str, status: int, expected: str) -> None:  # type: ignore[no-untyped-def]
    got, out = run_app(image_for, EXAMPLES / "json-batch", cmdline=cmdline)
    assert expected in out
    assert got == status


def test_an_app_that_never_exits_fails_in_bounded_time(image_for) -> None:  # type: ignore[no-untyped-def]
    # examples/clock ticks until Ctrl-C: run_app must give up at its deadline.
    image_for(boards.DEFAULT_BOARD, EXAMPLES / "clock")
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="did not exit within 3 s"):
        run_app(image_for, EXAMPLES / "clock", timeout=3)
    assert time.monotonic() - started < 15


def test_uncaught_exception_prints_traceback_and_exits_one(image_for) -> None:  # type: ignore[no-untyped-def]
    status, out = run_app(image_for, APPS / "crash")
    assert "about to fail" in out
    assert 'File "main.py", line 7, in <module>' in out
    assert 'File "main.py", line 3, in parse' in out
    assert "ValueError: invalid syntax for integer with base 10: 'not a number'" in out
    assert status == 1


def test_invoke_run_returns_the_app_status(image_for) -> None:  # type: ignore[no-untyped-def]
    image_for(boards.DEFAULT_BOARD, EXAMPLES / "json-batch")  # built already: invoke only boots
    result = subprocess.run(
        [*INVOKE, "run", "--app", str(EXAMPLES / "json-batch"), "--", "[5,500]"],
        cwd=boards.ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert '"over_limit": [500]' in result.stdout
    assert result.returncode == 3, result.stderr


def test_clock_ticks_until_ctrl_c_then_repl(image_for) -> None:  # type: ignore[no-untyped-def]
    guest = boot(image_for(boards.DEFAULT_BOARD, EXAMPLES / "clock"))
    try:
        port = guest.console(timeout=20)
        seen = port.read_until(b"slow tick 2 at ")
        assert b"fast tick 1 at " in seen and b"slow tick 1 at " in seen
        ticks = [int(t) for t in re.findall(rb"fast tick \d+ at (\d+) ms", seen)]
        assert ticks == sorted(ticks) and len(ticks) >= 4
        port.write(b"\x03")
        after = port.read_until(b">>> ")
        assert b"clock stopped\r\n" in after
        assert after.endswith(b">>> ")  # app.toml: after_main = "repl"
        port.close()
    finally:
        guest.stop()


def test_frozen_bytecode_runs_from_rodata(image_for) -> None:  # type: ignore[no-untyped-def]
    status, out = run_app(image_for, APPS / "rodata")
    assert status == 0
    match = re.search(r"rodata ([0-9a-f]+)\.\.([0-9a-f]+) frozen ([0-9a-f]+) in_rodata (\w+)", out)
    assert match, out
    assert match.group(4) == "True"
    assert "compiled" in out and "in_rodata False" in out  # code compiled at run time lives on the heap
    image = image_for(boards.DEFAULT_BOARD, APPS / "rodata")
    # The same bounds as the linker script's symbols in the ELF.
    symbols = subprocess.run(["nm", str(image.elf)], capture_output=True, text=True, check=True).stdout
    addr = {
        name: int(value, 16)
        for value, _, name in (line.split() for line in symbols.splitlines() if len(line.split()) == 3)
    }
    assert int(match.group(1), 16) == addr["__rodata_start"]
    assert int(match.group(2), 16) == addr["__rodata_end"]


def test_c_and_python_split_the_command_line_alike(image_for) -> None:  # type: ignore[no-untyped-def]
    # Tabs, vertical tabs, form feeds and runs of spaces: port/app.c (sys.argv)
    # and port/frozen/cmdline.py (str.split) once split these differently.
    status, out = run_app(image_for, APPS / "words", cmdline="a=1\tverbose \x0b -- x\ty\x0cz   w")
    assert "argv: ['x', 'y', 'z', 'w']" in out, out
    assert "args: ['x', 'y', 'z', 'w']" in out, out
    assert "options: [('a', '1'), ('verbose', True)]" in out, out
    assert status == 0
