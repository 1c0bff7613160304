"""Hostile or careless input ends in a Python exception or one clear line (issue 15).

Each reproduction is typed at the REPL (or given to QEMU) of a freshly booted
guest. Before the fixes each of them rebooted the VM silently, hung it deaf
to Ctrl-C, or overran memory; every wait here is bounded, so a guest that
hangs fails the test instead of hanging the run.
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
import serial
from conftest import BOARD, Guest, Repl, boot

from pyunik import vm

RECURSION = "RuntimeError: maximum recursion depth exceeded\r\n>>> "

DEEP_NESTING = {
    "eval-list": 'x = eval("[" * 3000 + "]" * 3000)',
    "hash-tuple": "t = ()\rfor i in range(100000): t = (t,)\r\rhash(t)",
    "eq-list": "a = []; b = []\rfor i in range(100000): a = [a]; b = [b]\r\ra == b",
    "lt-list": "a = []; b = []\rfor i in range(100000): a = [a]; b = [b]\r\ra < b",
    "index-list": "a = []; b = []\rfor i in range(100000): a = [a]; b = [b]\r\r[a].index(b)",
    "eq-dict": "a = {}; b = {}\rfor i in range(100000): a = {1: a}; b = {1: b}\r\ra == b",
    "re-compile": 'import re; re.compile("(" * 3000 + ")" * 3000)',
    "if-expression": 'eval("1" + " if 1 else 1" * 5000)',
    "nested-if": r'exec("".join(" " * i + "if 1:\n" for i in range(800)) + " " * 800 + "pass\n")',
}


def alive(repl: Repl) -> None:
    assert repl.run("print(6 * 7)").strip() == "42"


@pytest.mark.parametrize("source", DEEP_NESTING.values(), ids=DEEP_NESTING.keys())
def test_deep_nesting_raises_runtime_error(repl: Repl, source: str) -> None:
    repl.line(source)
    repl.expect(RECURSION, timeout=30)
    alive(repl)


def symbol(elf: str, name: str) -> int:
    symbols = subprocess.run(["nm", elf], capture_output=True, text=True, check=True).stdout
    return next(int(line.split()[0], 16) for line in symbols.splitlines() if line.endswith(f" {name}"))


def test_what_overflows_the_stack_anyway_meets_the_guard_page(repl: Repl, guest: Guest, image_for) -> None:  # type: ignore[no-untyped-def]
    # A read of the boot stack's guard page is what a C stack overflow that
    # no check caught does: it must be reported (on the exception stack), not
    # reboot the VM.
    guard = symbol(str(image_for(BOARD).elf), "boot_stack_guard")
    repl.line(f"import machine; machine.mem32[{guard:#x} + 0xff8]")
    repl.expect("pvboot: stack overflow: the C stack (48 KiB) ran into its guard page\r\n")
    repl.expect(f"CR2 {guard + 0xFF8:016x}")
    assert guest.wait(timeout=20) == vm.EXIT_FAULT


REPETITION = ["[0] * (2**61)", "[0, 0] * (2**62)", "l = [1, 2]; l *= 2**62", "(0,) * (2**61)", "b'abcdefgh' * (2**61)"]
REPETITION += ["'abcd' * (2**62)"]


@pytest.mark.parametrize("source", REPETITION)
def test_sequence_repetition_that_wraps_is_overflow_error(repl: Repl, source: str) -> None:
    repl.line(source)
    repl.expect("OverflowError: repeated sequence too long\r\n>>> ")
    alive(repl)


def test_bytesio_past_4_gib_is_memory_error(repl: Repl) -> None:
    repl.line("import io; b = io.BytesIO(); b.seek(2**40); b.write(b'x')")
    repl.expect("MemoryError: memory allocation failed, allocating 1099511627")
    repl.expect(">>> ")
    alive(repl)


def test_memory_error_says_the_whole_size(repl: Repl) -> None:
    out = repl.run("bytearray(2**40)")
    assert "MemoryError: memory allocation failed, allocating 1099511627776 bytes" in out


def test_struct_calcsize_of_a_huge_count_is_overflow_error(repl: Repl) -> None:
    out = repl.run("import struct; struct.calcsize('2305843009213693952Q')")
    assert "OverflowError: struct size too large" in out
    assert repl.run("print(struct.calcsize('<3Q2x'), struct.calcsize('b3Q'))").strip() == "26 32"


def test_negative_sleep_is_value_error(repl: Repl) -> None:
    out = repl.run("import time; time.sleep(-1)", timeout=5)
    assert "ValueError: sleep length must be non-negative" in out


@pytest.mark.parametrize("call", ["time.sleep_ms(2**62)", "time.sleep_us(2**62)", "time.sleep(1e30)"])
def test_a_sleep_too_long_to_count_sleeps_until_ctrl_c(repl: Repl, call: str) -> None:
    repl.line(f"import time; {call}; print('returned')")
    try:
        repl.expect(">>> ", timeout=1.5)
    except Exception:  # pexpect's TIMEOUT, through pytest-embedded: still asleep
        pass
    else:
        pytest.fail(f"{call} returned at once")
    repl.keys("\x03")
    repl.expect("KeyboardInterrupt: \r\n>>> ")
    alive(repl)


def test_ctrl_c_gets_through_a_full_input_buffer(repl: Repl) -> None:
    repl.line("while True: pass")
    repl.line("")
    time.sleep(0.3)
    repl.keys("a" * 4000 + "\x03")
    repl.expect("pyunik: input not read for 1 s with 1 KiB waiting: dropping more, watching for Ctrl-C\r\n")
    repl.expect("KeyboardInterrupt: \r\n>>> ", timeout=10)
    alive(repl)


LONG_C = {
    "regex-backtracking": "import re; re.match('(a|a)*c', 'a' * 40)",
    "constant-folding": "x = 10 ** (10 ** 7)",
    "factorial": "import math; x = math.factorial(10**6)",
}


@pytest.mark.parametrize("source", LONG_C.values(), ids=LONG_C.keys())
def test_ctrl_c_three_times_ends_a_long_c_computation(repl: Repl, source: str) -> None:
    repl.run("kept = 1")
    repl.line(source)
    time.sleep(0.5)
    repl.keys("\x03")
    time.sleep(1.2)
    repl.keys("\x03\x03")
    repl.expect("pyunik: Ctrl-C not taken (a long C computation): soft reset, Python state lost\r\n")
    repl.expect(">>> ")
    assert "NameError" in repl.run("kept")  # a soft reset: the old globals are gone
    alive(repl)


def refused_at_boot(image, cmdline: str) -> bytes:  # type: ignore[no-untyped-def]
    guest = boot(image, cmdline=cmdline)
    try:
        port = guest.console(timeout=10)
        line = port.read_until(b"\r\n")
        assert guest.wait(timeout=20) == 2
        port.close()
        return line
    finally:
        guest.stop()


@pytest.mark.parametrize(
    "cmdline",
    [
        "-- \udcff\udcfe abc",  # the bytes ff fe (surrogateescape: argv bytes as given)
        "-- " + "é" * 1100,  # 2,203 bytes of valid UTF-8
        "x" * 2042 + " -- é",  # é cut in half by the 2,047-byte limit
    ],
    ids=["invalid-utf8", "too-long", "cut-mid-character"],
)
def test_a_bad_command_line_is_one_line_and_status_2(image_for, cmdline: str) -> None:  # type: ignore[no-untyped-def]
    line = refused_at_boot(image_for(BOARD), cmdline)
    assert line.startswith(b"pyunik: the kernel command line is ")
    assert b"fix: " in line


def test_a_command_line_at_the_limit_still_boots(image_for) -> None:  # type: ignore[no-untyped-def]
    guest = boot(image_for(BOARD), cmdline="x" * 2044 + " --")
    try:
        port = guest.console(timeout=10)
        assert port.read_until(b">>> ").endswith(b">>> ")
        port.close()
    finally:
        guest.stop()


def test_a_cpu_without_long_mode_is_named_at_entry(image_for) -> None:  # type: ignore[no-untyped-def]
    image = image_for(BOARD)
    command = vm.qemu_command(
        image.board, image.elf, serial="stdio", extra=["-cpu", "qemu32"], plugin_args=image.qemu_args
    )
    guest = Guest(image.board, vm.start_with_pty(command), command.argv)
    try:
        port = guest.console(timeout=10)
        line = port.read_until(b"\r\n")
        assert line == b"pvboot: this CPU has no long mode; pyunik needs an x86_64 CPU (e.g. QEMU -cpu qemu64)\r\n"
        assert guest.wait(timeout=20) == vm.EXIT_FAULT
        port.close()
    finally:
        guest.stop()


class Echo:
    """Everything the guest prints, read by a thread so QEMU's output never waits on the test."""

    def __init__(self, port: serial.Serial) -> None:
        self.port = port
        self.port.timeout = 0.1
        self.data = bytearray()
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while self.running:
            chunk = self.port.read(65536)
            with self.lock:
                self.data += chunk

    def wait_for(self, marker: bytes, start: int, timeout: float, limit: int = 1 << 30) -> int:
        """Offset of ``marker`` at or after ``start``; fails past ``timeout`` or once ``limit`` bytes came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = self.data.find(marker, start)
                size = len(self.data) - start
            if found >= 0:
                return found
            assert size <= limit, f"{size} bytes printed and still no {marker!r}"
            time.sleep(0.05)
        pytest.fail(f"no {marker!r} within {timeout} s: {bytes(self.data[-200:])!r}")

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.port.close()


#: Bytes the line editor may print per key when it edits in the middle of a line:
#: an insert is "ESC [ 1 @" and the character, a backspace "\b" and "ESC [ 1 P".
ECHO_PER_KEY = 10


def test_editing_the_start_of_a_long_line_echoes_a_few_bytes_per_key(guest: Guest) -> None:
    # Before the fix every key typed before the tail of a line redrew the
    # whole tail: here 300 keys before 20,000 characters printed ~5 MB.
    echo = Echo(guest.console())
    try:
        echo.wait_for(b">>> ", 0, timeout=20)
        line = b's = "' + b"a" * 20000 + b'"'
        start = len(echo.data)
        for i in range(0, len(line), 1024):
            echo.port.write(line[i : i + 1024])
        echo.wait_for(b'a"', start + len(line) - 2, timeout=60)
        mark = len(echo.data)
        keys = b"\x1b[H" + b"\x1b[C" * 5 + b"b" * 200 + b"\x7f" * 100
        echo.port.write(keys + b"\r")
        end = echo.wait_for(b"\r\n", mark, timeout=60, limit=ECHO_PER_KEY * len(keys) * 10)
        printed = end - mark
        print(f"\n{len(keys)} bytes of keys before a 20,000-character tail echoed {printed} bytes")
        assert printed <= ECHO_PER_KEY * 305, f"{printed} bytes echoed for 305 keys"
        echo.wait_for(b">>> ", end, timeout=20)
        # The edit landed where the keys put it.
        mark = len(echo.data)
        echo.port.write(b"print(len(s), s[:3], s[99:102])\r")
        answer = echo.wait_for(b">>> ", mark, timeout=20)
        assert b"20100 bbb baa\r\n" in echo.data[mark:answer]
    finally:
        echo.close()


def start_without_exit_device(image, extra: list[str]) -> Guest:  # type: ignore[no-untyped-def]
    """The image booted as a user might without pyunik's QEMU arguments: no isa-debug-exit."""
    plugin_args = [a for a in image.qemu_args if not a.startswith("isa-debug-exit")]
    plugin_args = [a for i, a in enumerate(plugin_args) if not (a == "-device" and i + 1 == len(plugin_args))]
    assert "isa-debug-exit" not in " ".join(plugin_args)
    command = vm.qemu_command(image.board, image.elf, serial="stdio", extra=extra, plugin_args=plugin_args)
    return Guest(image.board, vm.start_with_pty(command), command.argv)


@pytest.mark.parametrize("board", ["qemu-microvm", "qemu-q35"])
def test_without_the_exit_device_acpi_powers_off(image_for, board: str) -> None:  # type: ignore[no-untyped-def]
    guest = start_without_exit_device(image_for(board), [])
    try:
        port = guest.console(timeout=20)
        assert port.read_until(b">>> ").endswith(b">>> ")
        port.write(b"import machine; machine.deepsleep()\r")
        assert guest.wait(timeout=20) == 0  # QEMU's own status for an ACPI power-off
        assert b"pvboot:" not in port.read(port.in_waiting)
        port.close()
    finally:
        guest.stop()


def test_without_the_exit_device_a_failure_says_its_status(image_for) -> None:  # type: ignore[no-untyped-def]
    guest = start_without_exit_device(image_for(BOARD), ["-append", "-- \udcff"])
    try:
        port = guest.console(timeout=20)
        assert port.read_until(b"\r\n").startswith(b"pyunik: the kernel command line is ")
        assert (
            port.read_until(b"\r\n") == b"pvboot: exit status 2 (no isa-debug-exit device to give it to the host)\r\n"
        )
        assert guest.wait(timeout=20) == 0
        port.close()
    finally:
        guest.stop()


def test_without_exit_device_or_acpi_one_line_says_so(image_for) -> None:  # type: ignore[no-untyped-def]
    # microvm with acpi=off (the virtio-mmio boards') has no way to power off.
    guest = start_without_exit_device(image_for("qemu-microvm"), ["-M", "microvm,acpi=off"])
    try:
        port = guest.console(timeout=20)
        assert port.read_until(b">>> ").endswith(b">>> ")
        port.write(b"import machine; machine.deepsleep()\r")
        port.read_until(b"\r\n")
        line = port.read_until(b"\r\n")
        assert line == b"pvboot: no way to power off (no isa-debug-exit device, no ACPI): halted; exit status 0\r\n"
        port.close()
    finally:
        guest.stop()


def test_a_cpu_without_a_local_apic_is_named_at_entry(image_for) -> None:  # type: ignore[no-untyped-def]
    image = image_for(BOARD)
    command = vm.qemu_command(
        image.board, image.elf, serial="stdio", extra=["-cpu", "qemu64,-apic"], plugin_args=image.qemu_args
    )
    guest = Guest(image.board, vm.start_with_pty(command), command.argv)
    try:
        port = guest.console(timeout=10)
        line = port.read_until(b"\r\n")
        assert line == (
            b"pvboot: this CPU has no local APIC; pyunik needs one for its timer and interrupts"
            b" (QEMU: leave out -apic)\r\n"
        )
        assert guest.wait(timeout=20) == vm.EXIT_FAULT
        port.close()
    finally:
        guest.stop()
