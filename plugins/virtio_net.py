"""virtio-net: each virtio network device becomes a NIC of the network
stack (an lwIP netif), receive interrupt-driven, no periodic polling."""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl

from . import MODULES_DIR


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="virtio-net",
        description="virtio network device (mmio v2 or modern PCI): MAC, link status, mergeable rx buffers",
        provides=("netif",),
        requires=("virtio", "netstack"),
        options={
            "rx_buffers": Option(
                int, 128, "2 KiB receive buffers kept in the ring (a power of two)", minimum=8, maximum=1024
            ),
            "tx_buffers": Option(int, 64, "2 KiB transmit buffers (a power of two)", minimum=8, maximum=1024),
        },
    )


@hookimpl
def pyunik_validate_options(board: Board, options: dict[str, Any]) -> list[str]:
    return [
        f"{key} is {options[key]}; fix: use a power of two (virtqueues are)"
        for key in ("rx_buffers", "tx_buffers")
        if options[key] & (options[key] - 1)
    ]


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[MODULES_DIR / "virtio_net" / "virtio_net.c"],
        defines={
            "VIRTIO_NET_RX_BUFFERS": str(options["rx_buffers"]),
            "VIRTIO_NET_TX_BUFFERS": str(options["tx_buffers"]),
        },
        init="virtio_net_init",
        init_order=40,
    )
