"""The TSC as the clock: time.ticks_*, time.sleep and asyncio's timing.

Calibrated against the i8254 PIT on first use (TCG reports no TSC rate).
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

from . import MODULES_DIR


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="tsc-clock",
        description="TSC clock, calibrated against the PIT on first use",
        provides=("clock",),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[MODULES_DIR / "tsc_clock" / "tsc_clock.c"],
        init="tsc_clock_init",
        init_order=20,
    )
