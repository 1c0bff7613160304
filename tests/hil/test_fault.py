"""A CPU exception prints the registers and ends QEMU with a non-zero status.

The trigger is ordinary MicroPython: machine.mem32 reads physical memory,
and an address above the 4 GiB identity map is not mapped, so the read takes
a page fault (vector 14) with CR2 = the address.
"""

from __future__ import annotations

import subprocess

import pytest
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


def image_end_kib(elf: str) -> int:
    """Where the image ends (the linker's _end), in KiB rounded up to 8 KiB,
    QEMU's granularity for -m."""
    symbols = subprocess.run(["nm", elf], capture_output=True, text=True, check=True).stdout
    end = next(int(line.split()[0], 16) for line in symbols.splitlines() if line.endswith(" _end"))
    return -(-end // 8192) * 8


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("below", b"pvboot: RAM does not cover the image; give the VM more memory (-m)\r\n"),
        ("at", b"pyunik: no RAM left for the heap ("),
    ],
)
def test_too_little_memory_is_one_clear_error(image_for, where: str, message: bytes) -> None:  # type: ignore[no-untyped-def]
    image = image_for(BOARD)
    end = image_end_kib(str(image.elf))
    memory = f"{end - 64}K" if where == "below" else f"{end}K"  # at: RAM ends where the image does
    guest = boot(image, memory=memory)
    try:
        port = guest.console(timeout=10)
        assert port.read_until(message).endswith(message)
        assert guest.wait(timeout=20) == vm.EXIT_FAULT
        port.close()
    finally:
        guest.stop()
