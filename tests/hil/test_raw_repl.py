"""The raw REPL and raw-paste mode, byte for byte as mpremote and
run-tests.py speak them (see MicroPython's docs/reference/repl.rst)."""

from __future__ import annotations

from conftest import Repl


def test_raw_repl_runs_code_and_reports_errors(repl: Repl) -> None:
    repl.keys("\r\x01")  # Ctrl-A: enter the raw REPL
    repl.expect("raw REPL; CTRL-B to exit\r\n>")
    repl.keys("print(1 + 1)\x04")
    # OK, then stdout, Ctrl-D, then stderr (the traceback), Ctrl-D, prompt.
    repl.expect("OK2\r\n\x04\x04>")
    repl.keys("1/0\x04")
    repl.expect("OK\x04Traceback (most recent call last):\r\n")
    repl.expect("ZeroDivisionError: divide by zero\r\n\x04>")
    repl.keys("\x02")  # Ctrl-B: back to the friendly REPL
    repl.expect(">>> ")


def test_raw_paste_mode_with_flow_control(repl: Repl) -> None:
    repl.keys("\r\x01")
    repl.expect("raw REPL; CTRL-B to exit\r\n>")
    repl.keys("\x05A\x01")  # ask for raw-paste mode
    repl.expect(b"R\x01")  # supported; then a 16-bit window-size increment
    window = repl.dut.expect(rb"([\s\S]{2})\x01", timeout=10).group(1)
    increment = int.from_bytes(window, "little")
    assert increment >= 32
    code = b"for i in range(3):\n    print('line', i)\n"
    assert len(code) <= increment  # fits in the first window: no waiting for \x01
    repl.keys(code + b"\x04")
    repl.expect(b"\x04")  # end of data acknowledged
    repl.expect("line 0\r\nline 1\r\nline 2\r\n\x04\x04>")
