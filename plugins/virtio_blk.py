"""virtio-blk: disks through the shared virtio core (mmio on microvm, PCI on q35).

The device side (modules/virtio_blk/) registers each disk with the block
layer (the `block` plugin), whose `blockdev.Disk(i, block_size)` is
MicroPython's block-device protocol, so VfsLfs2 and VfsFat mount it directly
(the `storage` plugin does at boot).
The disks themselves are QEMU drives: `invoke run --disk IMG` (pyunik/vm.py).
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "virtio_blk"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="virtio-blk",
        description="virtio block devices (read, write, flush), MicroPython's block-device protocol",
        provides=("blockdev",),
        requires=("virtio", "block"),
        options={
            "max_disks": Option(
                int, 4, "how many disks the driver takes (in the order QEMU gives them)", minimum=1, maximum=16
            ),
        },
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[SOURCE_DIR / "virtio_blk.c"],
        include_dirs=[MODULES_DIR / "virtio", MODULES_DIR / "block"],
        defines={"VIRTIO_BLK_MAX_DISKS": str(options["max_disks"])},
        init="virtio_blk_init",
        # After the virtio core has found the devices (its own init).
        init_order=60,
    )
