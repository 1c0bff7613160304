"""A littlefs image made as pyunik made them before the 16 KiB blocks: the
geometry change must not strand a user's existing disks (guest and host
tools fall back to the old block size)."""

from __future__ import annotations

from pathlib import Path

from pyunik import disk

CONTENT = b"made with 4 KiB blocks"


def make_4k_image(img: Path, size: int = 1 << 20) -> None:
    """``img``: a littlefs image with 4 KiB blocks holding /old.txt = CONTENT."""
    with img.open("wb") as f:
        f.truncate(size)
    lfs = disk._lfs(img, mount=False, block_size=4096)
    lfs.format()
    lfs.mount()
    with lfs.open("/old.txt", "wb") as f:
        f.write(CONTENT)
    lfs.unmount()
    lfs.context.close()
