"""The CMOS real-time clock: time.time() and time.localtime() (UTC)."""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

from . import MODULES_DIR


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="cmos-rtc",
        description="CMOS RTC (MC146818) as the wall clock, read once on first use",
        provides=("wallclock",),
        requires=("clock",),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(c_sources=[MODULES_DIR / "cmos_rtc" / "cmos_rtc.c"], init="cmos_rtc_init", init_order=30)
