"""Xen's PV console: what `xl console` shows and types (the REPL on Xen)."""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

from . import MODULES_DIR


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="xen-console",
        description="Xen PV console ring, event-channel driven input",
        provides=("console",),
        requires=("xen",),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[MODULES_DIR / "xen" / "xen_console.c"],
        include_dirs=[MODULES_DIR / "xen"],
        init="xen_console_init",
        init_order=10,
    )
