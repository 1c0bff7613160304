"""Xen's blkfront: each vbd of the domain becomes a disk of the block layer,
the same `blockdev.Disk` virtio-blk gives, so the `storage` plugin mounts
either. Silent without Xen (or without vbds), so one image serves on Xen
and on QEMU."""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl

from . import MODULES_DIR


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="xen-blkfront",
        description="Xen blkfront: vbds over a grant-shared ring (indirect segments, flush), IRQ-driven",
        provides=("blockdev",),
        requires=("xen", "block"),
        options={
            "max_disks": Option(int, 4, "how many vbds the driver takes (device/vbd/*)", minimum=1, maximum=16),
        },
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[MODULES_DIR / "xen_blkfront" / "blkfront.c"],
        include_dirs=[MODULES_DIR / "xen", MODULES_DIR / "block"],
        defines={"XEN_BLKFRONT_MAX_DISKS": str(options["max_disks"])},
        init="xen_blkfront_init",
        init_order=40,
    )
