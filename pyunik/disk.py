"""Disk images on the host: create, list, read and copy into them.

littlefs images are made and read with littlefs-python (the littlefs C
library, the same on-disk format v2.1 as MicroPython's VfsLfs2), FAT images
with mtools; no filesystem code of our own. The littlefs geometry below is
the one the image's VfsLfs2 is mounted with (plugins/storage.py hands the
same numbers to the guest through the board module), so that either side
reads what the other wrote.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pyunik import sizes


def _lfs_geometry() -> dict[str, Any]:
    """The littlefs numbers the image is frozen with (modules/storage/lfs_geometry.py,
    plain constants): read here, so that host and guest have one definition. It is
    the storage plugin's device code, found where the plugins find theirs (package
    data of pyunik_plugins: a link to modules/ in a checkout, a copy in a wheel)."""
    from pyunik_plugins import MODULES_DIR

    path = MODULES_DIR / "storage" / "lfs_geometry.py"
    tree = ast.parse(path.read_text(), str(path))
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


_GEOMETRY = _lfs_geometry()
#: A disk's sector: what virtio-blk reads and writes at a time.
SECTOR = _GEOMETRY["SECTOR"]
#: littlefs on a disk (lfs_geometry.py says why these numbers).
LFS_BLOCK_SIZE = _GEOMETRY["BLOCK_SIZE"]
LFS_READ_SIZE = _GEOMETRY["READ_SIZE"]
LFS_PROG_SIZE = _GEOMETRY["PROG_SIZE"]
LFS_LOOKAHEAD = _GEOMETRY["LOOKAHEAD"]
LFS_OLD_BLOCK_SIZES: tuple[int, ...] = _GEOMETRY["OLD_BLOCK_SIZES"]
#: FAT's sector is the disk's.
FAT_SECTOR = SECTOR
#: FAT's cluster: 32 KiB (mformat's own choice for 64 MiB was 1 KiB).
#: oofatfs reads and writes a file's data at most one cluster per device
#: call, and each call is a round trip to the device model. Up to 128 MiB
#: this makes FAT12 (under 4085 clusters), larger images FAT16/32; a file
#: takes at least a cluster.
FAT_CLUSTER = 32768
FILESYSTEMS = ("lfs", "fat")


class DiskError(Exception):
    """A disk image cannot be made or read; the message says why and what to do."""


def parse_size(text: str) -> int:
    """'16M', '512K', '1G' or a byte count, as bytes."""
    try:
        return sizes.to_bytes(text)
    except sizes.SizeError as exc:
        raise DiskError(str(exc)) from None


@dataclass(frozen=True)
class Entry:
    """One file or directory in an image."""

    path: str
    is_dir: bool
    size: int


def _lfs(image: Path, mount: bool = True, block_size: int = 0):  # type: ignore[no-untyped-def]
    """littlefs-python over the image file, with the guest's geometry. Mounting
    also tries the block sizes of earlier images, as the guest does."""
    from littlefs import LittleFS, LittleFSError, UserContextFile

    size = image.stat().st_size
    block_size = block_size or LFS_BLOCK_SIZE
    if size < 2 * block_size:
        raise DiskError(f"{image}: {size} bytes is too small for littlefs (at least {2 * block_size})")

    def open_with(block: int):  # type: ignore[no-untyped-def]
        # Never LittleFS(mount=True): littlefs-python formats the image when
        # that mount fails (a wrong block size, a damaged image).
        lfs = LittleFS(
            context=UserContextFile(str(image)),
            block_size=block,
            block_count=size // block,
            read_size=LFS_READ_SIZE,
            prog_size=LFS_PROG_SIZE,
            lookahead_size=LFS_LOOKAHEAD,
            mount=False,
        )
        if mount:
            try:
                lfs.mount()
            except LittleFSError:
                lfs.context.close()
                raise
        return lfs

    try:
        return open_with(block_size)
    except LittleFSError as exc:
        if block_size != LFS_BLOCK_SIZE:
            raise
        # An image made with an earlier block size (littlefs says EINVAL).
        for block in LFS_OLD_BLOCK_SIZES:
            try:
                return open_with(block)
            except LittleFSError:
                pass
        raise DiskError(
            f"{image}: littlefs does not mount it with {LFS_BLOCK_SIZE}-byte blocks"
            f" (or {', '.join(map(str, LFS_OLD_BLOCK_SIZES))}): {exc}; the image is left as it was"
        ) from None


def _mtools(tool: str, *args: str) -> str:
    if shutil.which(tool) is None:
        raise DiskError(f"{tool} not found; install Debian's mtools (./bootstrap.sh does)")
    # mtools refuses images whose FAT geometry it doubts unless told not to care.
    result = subprocess.run(
        [tool, *args], capture_output=True, text=True, env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}
    )
    if result.returncode != 0:
        raise DiskError(f"{tool} {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def detect(image: Path) -> str:
    """'lfs' or 'fat' from the image's first blocks, else a DiskError."""
    blocks = (LFS_BLOCK_SIZE, *LFS_OLD_BLOCK_SIZES)
    with image.open("rb") as f:
        head = f.read(2 * max(blocks))
    # littlefs puts "littlefs" in the superblock entry of block 0 or 1.
    if any(b"littlefs" in head[at : at + 64] for at in (0, *blocks)):
        return "lfs"
    if len(head) >= 512 and head[510:512] == b"\x55\xaa" and (b"FAT" in head[0x36:0x3E] or b"FAT" in head[0x52:0x5A]):
        return "fat"
    raise DiskError(f"{image}: neither littlefs nor FAT; fix: make it with `invoke disk.create`")


def create(image: Path, fs: str, size: int, source: Path | None = None) -> None:
    """A new image of ``size`` bytes with an empty ``fs`` filesystem, filled
    from the directory ``source`` if given."""
    if fs not in FILESYSTEMS:
        raise DiskError(f"--fs {fs}: use one of {', '.join(FILESYSTEMS)}")
    if size <= 0 or size % LFS_BLOCK_SIZE:
        raise DiskError(f"--size {size}: give a multiple of {LFS_BLOCK_SIZE} bytes, e.g. 16M")
    if source is not None and not source.is_dir():
        raise DiskError(f"--from {source}: not a directory")
    with image.open("wb") as f:
        f.truncate(size)
    if fs == "lfs":
        lfs = _lfs(image, mount=False)
        lfs.format()
        lfs.mount()
        if source is not None:
            for path in sorted(source.rglob("*")):
                target = "/" + path.relative_to(source).as_posix()
                if path.is_dir():
                    lfs.mkdir(target)
                else:
                    with lfs.open(target, "wb") as out:
                        out.write(path.read_bytes())
        lfs.unmount()
    else:
        sectors = size // FAT_SECTOR
        _mtools(
            "mformat",
            "-i",
            str(image),
            "-T",
            str(sectors),
            "-h",
            "2",
            "-s",
            "16",
            "-c",
            str(FAT_CLUSTER // FAT_SECTOR),
            "::",
        )
        if source is not None and any(source.iterdir()):
            _mtools("mcopy", "-s", "-i", str(image), *(str(p) for p in sorted(source.iterdir())), "::")


def walk(image: Path) -> Iterator[Entry]:
    """Every file and directory in the image, depth first."""
    if detect(image) == "lfs":
        lfs = _lfs(image)
        for top, dirs, files in lfs.walk("/"):
            for name in sorted(dirs):
                yield Entry(str(PurePosixPath(top) / name), True, 0)
            for name in sorted(files):
                path = str(PurePosixPath(top) / name)
                yield Entry(path, False, lfs.stat(path).size)
        return
    for line in _mtools("mdir", "-/", "-b", "-i", str(image), "::").splitlines():
        path = line.removeprefix("::")
        if not path:
            continue
        is_dir = path.endswith("/")
        path = path.rstrip("/")
        size = 0
        if not is_dir:
            size = len(read(image, path))
        yield Entry(path, is_dir, size)


def read_all(image: Path) -> dict[str, bytes]:
    """Every file in the image and its contents, read with one mount."""
    if detect(image) != "lfs":
        return {e.path: read(image, e.path) for e in walk(image) if not e.is_dir}
    lfs = _lfs(image)
    files = {}
    for top, _dirs, names in lfs.walk("/"):
        for name in names:
            path = str(PurePosixPath(top) / name)
            with lfs.open(path, "rb") as f:
                files[path] = f.read()
    return files


def read(image: Path, path: str) -> bytes:
    """The contents of the file ``path`` in the image."""
    if detect(image) == "lfs":
        lfs = _lfs(image)
        try:
            with lfs.open(path, "rb") as f:
                return f.read()
        except Exception as exc:  # littlefs-python raises LittleFSError
            raise DiskError(f"{image}:{path}: {exc}") from None
    result = subprocess.run(
        ["mtype", "-i", str(image), f"::{path}"],
        capture_output=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    )
    if result.returncode != 0:
        raise DiskError(f"{image}:{path}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def write(image: Path, path: str, data: bytes) -> None:
    """Write ``data`` to the file ``path`` in the image (replacing it)."""
    if detect(image) == "lfs":
        lfs = _lfs(image)
        with lfs.open(path, "wb") as f:
            f.write(data)
        lfs.unmount()
        return
    import tempfile

    with tempfile.NamedTemporaryFile() as tmp:
        tmp.write(data)
        tmp.flush()
        _mtools("mcopy", "-o", "-i", str(image), tmp.name, f"::{path}")
