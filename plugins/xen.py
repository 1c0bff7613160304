"""Running as a Xen PVH guest: shared info, event channels on the callback
vector, xenstore, grant tables, the wall clock and SCHEDOP_shutdown.

Does nothing when the image runs without Xen, so a board can carry it and
still boot on plain QEMU.
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "xen"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="xen",
        description="Xen PVH guest: event channels, xenstore (import xen), grant tables, wallclock, shutdown",
        provides=("xen", "wallclock", "exit-status"),
        requires=("clock",),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[SOURCE_DIR / name for name in ("xen.c", "gnttab.c", "xenstore.c", "xenbus.c", "modxen.c")],
        include_dirs=[SOURCE_DIR],
        frozen=[SOURCE_DIR / "xen.py"],
        init="xen_init",
        init_order=5,
    )
