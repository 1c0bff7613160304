"""QEMU's isa-debug-exit device: the guest's exit status becomes QEMU's.

With this plugin pvboot writes the exit status to port 0xf4 (the define
PVBOOT_EXIT_PORT, read by port/pvboot/shutdown.c and entry.S) and the device
is added to the QEMU command line, so the write ends QEMU with
(status << 1) | 1. Without it the image never touches port 0xf4: it halts.
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

#: Where QEMU's isa-debug-exit listens (its iobase), and where pvboot writes.
EXIT_PORT = 0xF4


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="isa-debug-exit",
        description="QEMU isa-debug-exit at port 0xf4: exit statuses reach the host",
        provides=("exit-status",),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        defines={"PVBOOT_EXIT_PORT": hex(EXIT_PORT)},
        qemu_args=["-device", f"isa-debug-exit,iobase={EXIT_PORT:#x},iosize=0x04"],
    )
