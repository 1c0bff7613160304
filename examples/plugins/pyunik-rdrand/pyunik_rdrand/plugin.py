"""The host side of the rdrand plugin: what it puts into an image, and when.

pyunik finds this module through the entry point in pyproject.toml, asks
pyunik_plugin() who it is, checks a board's options against the declared
schema, and - only for boards that select it - asks pyunik_component() for
the C source and frozen Python to build in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl

DEVICE = Path(__file__).resolve().parent / "device"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="rdrand",
        description="RDRAND instruction as an entropy source: modules rdrand and entropy",
        provides=("entropy",),
        options={
            "retries": Option(int, 10, "RDRAND attempts before giving up on one word", minimum=1, maximum=1000),
        },
    )


@hookimpl
def pyunik_validate_options(board: Board, options: dict[str, Any]) -> list[str]:
    # The schema already checked type and range; this is where a plugin
    # checks what a schema cannot say.
    if board.vm.accel == "kvm" and board.vm.machine == "pc":
        return ["rdrand is untested on the pc machine under KVM; use q35 or microvm"]
    return []


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[DEVICE / "modrdrand.c"],
        defines={"RDRAND_RETRIES": str(options["retries"])},
        frozen=[DEVICE / "entropy.py"],
        # TCG's default CPU model lacks RDRAND; "max" has it.
        qemu_args=["-cpu", "max"],
    )
