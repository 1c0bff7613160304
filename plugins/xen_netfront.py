"""Xen's netfront: each vif of the domain becomes a NIC of the network stack,
the same netif layer virtio-net feeds. Silent without Xen (or without
vifs), so one image serves on Xen and on QEMU."""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

from . import MODULES_DIR


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="xen-netfront",
        description="Xen netfront: vifs over grant-shared rings (rx-copy, rx-notify), IRQ-driven",
        provides=("netif",),
        requires=("xen", "netstack"),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[MODULES_DIR / "xen_netfront" / "netfront.c"],
        include_dirs=[MODULES_DIR / "xen"],
        init="xen_netfront_init",
        init_order=40,
    )
