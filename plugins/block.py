"""The block-device layer the disk drivers share (modules/block/): the
Python module `blockdev` (`blockdev.Disk(i, block_size)`: MicroPython's
block-device protocol in C, for VfsLfs2 and VfsFat), request splitting,
waiting with a timeout, and the network's polls while a disk works.
Drivers (virtio-blk, xen-blkfront) require it; a board does not list it.
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, PluginInfo, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "block"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="block",
        description="block-device layer: blockdev.Disk (readblocks/writeblocks/ioctl) over any disk driver",
        provides=("block",),
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(c_sources=[SOURCE_DIR / "blockdev.c"], include_dirs=[SOURCE_DIR])
