"""The virtio core: split virtqueues over virtio-mmio v2 (microvm) and
modern virtio-pci (q35, pc). Drivers such as virtio-net require it."""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "virtio"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="virtio",
        description="virtio core: split virtqueues (event_idx) over virtio-mmio v2 and modern virtio-pci (MSI-X)",
        provides=("virtio",),
    )


def qemu_args(board: Board) -> list[str]:
    """What QEMU needs so that the image finds modern virtio devices: on
    microvm, transports announced on the command line (acpi=off) in
    version 2; PCI devices are modern already (transitional by default)."""
    if board.vm.machine == "microvm":
        return ["-M", "acpi=off", "-global", "virtio-mmio.force-legacy=false"]
    return []


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[SOURCE_DIR / name for name in ("virtio.c", "virtqueue.c", "virtio_mmio.c", "virtio_pci.c")],
        include_dirs=[SOURCE_DIR],
        qemu_args=qemu_args(board),
    )
