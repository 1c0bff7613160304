"""The block-device layer the disk drivers share (modules/block/): the
Python module `blockdev` (`blockdev.Disk(i, block_size)`: MicroPython's
block-device protocol in C, for VfsLfs2 and VfsFat), request splitting,
waiting with a timeout, the network's polls while a disk works, and a
read cache of recently used pages with readahead (blockcache.h: writes go
through to the device; `cache_kib = 0` turns it off).
Drivers (virtio-blk, xen-blkfront) require it; a board need not list it.
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "block"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="block",
        description="block-device layer: blockdev.Disk (readblocks/writeblocks/ioctl) over any disk driver",
        provides=("block",),
        options={
            "cache_kib": Option(
                int,
                1024,
                "KiB of RAM for the disks' read cache (write-through, with readahead); 0: none",
                minimum=0,
                maximum=65536,
            ),
        },
    )


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[SOURCE_DIR / "blockdev.c", SOURCE_DIR / "blockcache.c"],
        include_dirs=[SOURCE_DIR],
        defines={
            "BLOCKDEV_CACHE_KIB": str(options["cache_kib"]),
            # blockdev.Disk gives the VFS its C functions (patches/micropython/0015):
            # littlefs's and FAT's device calls skip the Python method call.
            "MICROPY_VFS_BLOCKDEV_NATIVE_EXT": "1",
        },
    )
