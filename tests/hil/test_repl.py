"""The friendly REPL, paste mode, Ctrl-C, Ctrl-D: as a MicroPython user types."""

from __future__ import annotations

import time

from conftest import BOARD, Guest, Repl


def test_banner_and_prompt(dut) -> None:  # type: ignore[no-untyped-def]
    dut.expect_exact(b"MicroPython v1.25.0 on ", timeout=20)
    dut.expect_exact(f"; {BOARD} with x86_64\r\n".encode())
    dut.expect_exact(b'Type "help()" for more information.\r\n>>> ')


def test_a_reader_attached_after_the_banner_still_sees_it(guest: Guest) -> None:
    """The banner waits on the console until someone reads it. pyserial
    flushes a tty's input when it opens one, so a reader opened after the
    guest printed (pytest-embedded, under CI's load) saw nothing and timed
    out; the console port is now opened before QEMU starts."""
    port = guest.console(timeout=0.5)
    deadline = time.monotonic() + 60
    waiting = -1
    while time.monotonic() < deadline:  # until the guest has printed and stopped
        time.sleep(1)
        if port.in_waiting and port.in_waiting == waiting:
            break
        waiting = port.in_waiting
    # What pytest-embedded does when the port fixture hands it this console.
    port.timeout = 20
    assert port.read_until(b">>> ").endswith(b'Type "help()" for more information.\r\n>>> ')


def test_arithmetic(repl: Repl) -> None:
    assert repl.run("print(6 * 7, 2 ** 100, 7 / 2)").strip() == "42 1267650600228229401496703205376 3.5"


def test_multiline_function_definition(repl: Repl) -> None:
    repl.line("def twice(x):")
    repl.expect("... ")
    repl.line("return 2 * x")  # the REPL auto-indents the body
    # Enter on an auto-indented line keeps the indent; after two such lines
    # the REPL stops indenting, and an empty line ends the block.
    repl.line("")
    repl.line("")
    repl.line("")
    repl.expect(">>> ")
    assert repl.run("print(twice(21))").strip() == "42"


def test_traceback_names_the_line(repl: Repl) -> None:
    repl.keys("\x05")  # paste mode: the lines go in exactly as written
    repl.expect("paste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
    repl.keys("def fail():\r    x = 1\r    raise ValueError('boom %d' % x)\r\rfail()\r\x04")
    repl.expect("Traceback (most recent call last):\r\n")
    repl.expect('  File "<stdin>", line 5, in <module>\r\n')
    repl.expect('  File "<stdin>", line 3, in fail\r\n')
    repl.expect("ValueError: boom 1\r\n>>> ")


def test_paste_mode(repl: Repl) -> None:
    repl.keys("\x05")
    repl.expect("=== ")
    repl.keys("total = 0\rfor i in range(5):\r    total += i\rprint('total', total)\r\x04")
    repl.expect("total 10\r\n>>> ")


def test_ctrl_c_interrupts_busy_loop(repl: Repl) -> None:
    repl.line("while True: pass")
    repl.line("")
    time.sleep(0.5)  # let the loop start
    repl.keys("\x03")
    repl.expect("KeyboardInterrupt: \r\n>>> ")
    assert repl.run("print('alive')").strip() == "alive"


def test_ctrl_c_interrupts_asyncio_run(repl: Repl) -> None:
    repl.keys("\x05")
    repl.expect("=== ")
    repl.keys(
        "import asyncio\r"
        "async def tick():\r"
        "    n = 0\r"
        "    while True:\r"
        "        n += 1\r"
        "        await asyncio.sleep_ms(5)\r"
        "print('loop starts')\r"
        "asyncio.run(tick())\r\x04"
    )
    repl.expect("loop starts\r\n")
    time.sleep(0.5)
    repl.keys("\x03")
    repl.expect("KeyboardInterrupt: \r\n>>> ")


def test_ctrl_d_soft_reset_clears_globals(repl: Repl) -> None:
    repl.run("kept = 123")
    assert repl.run("print(kept)").strip() == "123"
    repl.keys("\x04")
    repl.expect("MPY: soft reboot\r\n")
    repl.expect(">>> ")
    out = repl.run("print(kept)")
    assert "NameError: name 'kept' isn't defined" in out


def test_modules_a_user_expects(repl: Repl) -> None:
    names = (
        "asyncio json re struct binascii hashlib random heapq collections array io errno sys gc micropython "
        "time math select machine board"
    )
    out = repl.run(f"import {', '.join(names.split())}; print('imported')")
    assert out.strip() == "imported"
    out = repl.run(
        "print(json.dumps({'k': [1, 2.5]}), re.match(r'(\\d+)', '123abc').group(1), "
        "binascii.hexlify(hashlib.sha256(b'abc').digest()[:4]), math.sqrt(2))"
    )
    assert out.strip() == "{\"k\": [1, 2.5]} 123 b'ba7816bf' 1.414213562373095"


def test_mem_info_reports_the_heap(repl: Repl) -> None:
    out = repl.run("import micropython; micropython.mem_info()")
    assert "GC: total: " in out
    total = int(out.split("GC: total: ")[1].split(",")[0])
    # -m 32M: the heap is the largest free region, most of the RAM.
    assert total > 24 * 1024 * 1024


def test_tab_completion_and_history(repl: Repl) -> None:
    repl.keys("import micropython\r")
    repl.expect(">>> ")
    repl.keys("micropython.mem_i\t")
    repl.expect("micropython.mem_info")
    repl.keys("\x03")  # abandon the line
    repl.expect(">>> ")
    repl.keys("\x1b[A")  # up arrow: the previous line comes back
    repl.expect("import micropython")


def test_gc_collect_keeps_what_the_repl_holds(repl: Repl) -> None:
    # The REPL's line buffer lives on the boot stack: the GC must scan all
    # of it (a stack top taken from a local once missed the REPL's frame).
    repl.run("import gc; keep = [bytearray(64) for _ in range(100)]; gc.collect()")
    assert repl.run("print(len(keep), sum(len(b) for b in keep))").strip() == "100 6400"
    repl.run("gc.collect()")
    assert repl.run("print(6 * 7)").strip() == "42"
