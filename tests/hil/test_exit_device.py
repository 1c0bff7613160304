"""The exit device is the isa-debug-exit plugin's, not pvboot's.

A board without the plugin builds an image that never writes to port 0xf4:
even with the device on QEMU's command line, ``sys.exit(3)`` does not make
QEMU exit with (3 << 1) | 1. pvboot powers the machine off through ACPI
instead (QEMU exits 0), or halts where there is no ACPI.
"""

from __future__ import annotations

import time
from pathlib import Path

from conftest import APPS

from pyunik import board as boards
from pyunik import build, vm

BOARD_FILE = Path(__file__).parent / "boards" / "no-exit-device" / "board.toml"
DEVICE = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


def test_without_the_plugin_the_image_does_not_poke_port_0xf4() -> None:
    image = build.build(boards.load(BOARD_FILE), app=build.App.load(APPS / "exit3"))
    assert "isa-debug-exit" not in image.plugins and not image.qemu_args
    command = vm.qemu_command(image.board, image.elf, serial="stdio", extra=DEVICE)
    running = vm.start_with_pty(command)
    try:
        console = running.console(timeout=0.2)
        output = b""
        deadline = time.monotonic() + 60
        while b"leaving with status 3" not in output and time.monotonic() < deadline:
            output += console.read(4096)
        console.close()
        assert b"leaving with status 3" in output, output[-300:]
        # pvboot_shutdown() runs right after main.py: a write to 0xf4 would end QEMU within a few ms.
        time.sleep(3)
        returncode = running.proc.poll()
        assert returncode is None or returncode % 2 == 0, f"QEMU exited with {returncode}: the image wrote to 0xf4"
    finally:
        running.close()
