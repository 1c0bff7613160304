"""Files on a disk: littlefs v2 and FAT through MicroPython's VFS, mounted at boot.

The image always has MicroPython's VFS, `os` and open() (port/mpconfigport.h);
this plugin compiles in the on-disk filesystems (VfsLfs2, VfsFat) and
freezes modules/storage/_boot.py, which mounts the board's disk before the
app's boot.py runs. It needs a block device (`blockdev`: virtio-blk or xen-blkfront).
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "storage"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="storage",
        description="littlefs and FAT on a block device, mounted at boot (os, open())",
        provides=("filesystem",),
        requires=("blockdev",),
        options={
            "mount": Option(str, "/", "where the disk is mounted (and the current directory at boot)"),
            "disk": Option(int, 0, "which disk: 0 is the first `--disk`", minimum=0, maximum=15),
            "fs": Option(
                str, "auto", "what the disk holds: lfs, fat, or auto (lfs, then fat)", choices=("auto", "lfs", "fat")
            ),
            "format": Option(
                str,
                "",
                "format the disk with this when it holds no filesystem (never by default)",
                choices=("", "lfs", "fat"),
            ),
            "readonly": Option(bool, False, "mount read-only: writes fail with OSError(EROFS)"),
            "disk_boot": Option(bool, False, "a boot.py/main.py on the disk runs instead of the frozen one"),
        },
    )


@hookimpl
def pyunik_validate_options(board: Board, options: dict[str, Any]) -> list[str]:
    point = options["mount"]
    if not point.startswith("/") or (len(point) > 1 and point.endswith("/")):
        return [f"option 'mount' is '{point}'; fix: give an absolute path like \"/\" or \"/data\""]
    if options["format"] and options["fs"] not in ("auto", options["format"]):
        return [f"options 'format' ({options['format']}) and 'fs' ({options['fs']}) disagree; fix: make them the same"]
    return []


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        frozen=[SOURCE_DIR / "_boot.py", SOURCE_DIR / "lfs_geometry.py"],
        make_vars={"MICROPY_VFS_LFS2": "1", "MICROPY_VFS_FAT": "1"},
        defines={"PYUNIK_DISK_BOOT": "1" if options["disk_boot"] else "0"},
    )
