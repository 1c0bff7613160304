"""16550 UART console: the serial line QEMU connects with -serial."""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "uart16550"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="uart16550",
        description="16550 UART console (COM1 by default), receive interrupt-driven",
        provides=("console",),
        options={
            "port": Option(int, 0x3F8, "I/O port base: 0x3f8 is COM1, 0x2f8 COM2", minimum=0, maximum=0xFFF8),
            "baud": Option(int, 115200, "line speed", choices=(9600, 19200, 38400, 57600, 115200)),
            "irq": Option(
                int,
                4,
                "IOAPIC line of the receive interrupt (4 for COM1, 3 for COM2); -1 polls",
                minimum=-1,
                maximum=23,
            ),
        },
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[SOURCE_DIR / "uart16550.c"],
        defines={
            "UART16550_PORT": hex(options["port"]),
            "UART16550_BAUD": str(options["baud"]),
            "UART16550_IRQ": str(options["irq"]),
        },
        init="uart16550_init",
        init_order=10,
    )
