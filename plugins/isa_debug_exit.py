"""QEMU's isa-debug-exit device: the guest's exit status becomes QEMU's.

pvboot always writes the status to port 0xf4; this plugin adds the device
to the QEMU command line so that the write ends QEMU with (status << 1) | 1.
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="isa-debug-exit",
        description="QEMU isa-debug-exit at port 0xf4: exit statuses reach the host",
        provides=("exit-status",),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(qemu_args=["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
