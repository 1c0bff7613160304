"""The local APIC timer, one-shot: wakes the idle CPU at the next deadline."""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

from . import MODULES_DIR


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="lapic-timer",
        description="local APIC timer, one-shot, programmed for the next deadline only (tickless)",
        provides=("timer",),
        requires=("clock",),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[MODULES_DIR / "lapic_timer" / "lapic_timer.c"],
        init="lapic_timer_init",
        init_order=25,
    )
