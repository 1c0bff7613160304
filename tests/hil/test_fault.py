"""A CPU exception prints the registers and ends QEMU with a non-zero status.

The trigger is ordinary MicroPython: machine.mem32 reads physical memory,
and an address above the 4 GiB identity map is not mapped, so the read takes
a page fault (vector 14) with CR2 = the address.
"""

from __future__ import annotations

import pytest
import serial
from conftest import BOARD, Guest, Repl, boot

from pyunik import vm


def test_page_fault_dumps_registers_and_exits_nonzero(repl: Repl, guest: Guest) -> None:
    repl.line("import machine; machine.mem32[0x123456789000]")
    repl.expect("*** CPU exception 14 (page fault), error code 0x0\r\n")
    repl.expect("RIP ")
    repl.expect("CR2 0000123456789000")
    for register in ("RAX ", "RBX ", "RSI ", "R8  ", "R12 ", "stack:"):
        repl.expect(register)
    status = guest.wait(timeout=20)
    assert status == vm.EXIT_FAULT
    assert guest.proc.returncode == (vm.EXIT_FAULT << 1) | 1  # what QEMU itself returned


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        ("1100K", b"pvboot: RAM does not cover the image; give the VM more memory (-m)\r\n"),
        ("1420K", b"pyunik: no RAM left for the heap (0 bytes free); give the VM more memory\r\n"),
    ],
)
def test_too_little_memory_is_one_clear_error(image_for, memory: str, message: bytes) -> None:  # type: ignore[no-untyped-def]
    guest = boot(image_for(BOARD), memory=memory)
    try:
        port = serial.Serial(guest.pty, timeout=10)
        assert port.read_until(message).endswith(message)
        assert guest.wait(timeout=20) == vm.EXIT_FAULT
        port.close()
    finally:
        guest.stop()
