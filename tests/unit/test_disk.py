"""Host-side disk images (pyunik.disk) and the QEMU drives for them."""

from __future__ import annotations

import ast
from pathlib import Path

import oldlfs
import pytest

from pyunik import board as boards
from pyunik import disk, vm

BOOT_PY = boards.ROOT / "modules" / "storage" / "_boot.py"


def test_guest_mounts_with_the_geometry_the_host_formats_with() -> None:
    """_boot.py has no littlefs numbers of its own: it imports the frozen
    lfs_geometry, the file pyunik.disk reads (either side reads what the other wrote)."""
    tree = ast.parse(BOOT_PY.read_text())
    imported = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "lfs_geometry"]
    assert imported, "_boot.py must take the littlefs geometry from lfs_geometry"
    own = [
        node.targets[0].id  # type: ignore[attr-defined]
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int)
    ]
    assert own == []
    assert disk.LFS_BLOCK_SIZE == 16384 and disk.SECTOR == 512


def test_littlefs_geometry_is_one_littlefs_accepts_with_block_sized_caches() -> None:
    """lfs_init's asserts, with the cache size vfs_lfsx.c takes when the port
    sets MICROPY_VFS_LFS2_CACHE_BLOCK (patches/micropython/0013): a whole block."""
    config = (boards.ROOT / "port" / "mpconfigport.h").read_text()
    assert "#define MICROPY_VFS_LFS2_CACHE_BLOCK (1)" in config
    patch = boards.ROOT / "patches" / "micropython" / "0013-vfs-lfs-block-sized-cache-and-block-cycles.patch"
    assert "config->cache_size = config->block_size;" in patch.read_text()
    cache = disk.LFS_BLOCK_SIZE
    assert cache % disk.LFS_READ_SIZE == 0 and cache % disk.LFS_PROG_SIZE == 0
    assert disk.LFS_LOOKAHEAD % 8 == 0
    assert disk.LFS_READ_SIZE % disk.SECTOR == 0 and disk.LFS_PROG_SIZE % disk.SECTOR == 0
    assert all(old % disk.SECTOR == 0 and old != disk.LFS_BLOCK_SIZE for old in disk.LFS_OLD_BLOCK_SIZES)


@pytest.mark.parametrize("fs", disk.FILESYSTEMS)
def test_create_fill_list_read_write(tmp_path: Path, fs: str) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 20)
    img = tmp_path / "d.img"
    disk.create(img, fs, 1 << 20, src)
    assert img.stat().st_size == 1 << 20
    assert disk.detect(img) == fs
    entries = {e.path: e for e in disk.walk(img)}
    assert entries["/a.txt"].size == 5
    assert entries["/sub"].is_dir
    assert disk.read(img, "/sub/b.bin") == bytes(range(256)) * 20
    disk.write(img, "/a.txt", b"changed")
    assert disk.read(img, "/a.txt") == b"changed"


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    img = tmp_path / "d.img"
    with pytest.raises(disk.DiskError, match=f"multiple of {disk.LFS_BLOCK_SIZE}"):
        disk.create(img, "lfs", 1000)
    with pytest.raises(disk.DiskError, match="use one of lfs, fat"):
        disk.create(img, "ext4", 1 << 20)
    with pytest.raises(disk.DiskError, match="not a size"):
        disk.parse_size("lots")
    img.write_bytes(bytes(1 << 16))
    with pytest.raises(disk.DiskError, match="neither littlefs nor FAT"):
        disk.read(img, "/x")
    assert disk.parse_size("16M") == 16 << 20


def test_disk_args_per_machine(tmp_path: Path) -> None:
    img = tmp_path / "a,b.img"
    img.write_bytes(bytes(4096))
    micro = vm.disk_args(boards.load("qemu-microvm-disk"), [img, img])
    assert micro[1].startswith("file=") and ",," in micro[1] and "id=disk0" in micro[1]
    assert micro[3] == "virtio-blk-device,drive=disk0" and micro[7] == "virtio-blk-device,drive=disk1"
    q35 = vm.disk_args(boards.load("qemu-q35-disk"), [img])
    assert q35[3] == "virtio-blk-pci,disable-legacy=on,drive=disk0"
    with pytest.raises(vm.VmError, match=r"invoke disk\.create"):
        vm.disk_args(boards.load("qemu-q35-disk"), [tmp_path / "missing.img"])


def test_an_image_littlefs_cannot_mount_is_reported_and_left_alone(tmp_path: Path) -> None:
    """littlefs-python formats an image whose mount fails when asked to mount
    at construction; pyunik.disk must not: a DiskError, the bytes unchanged."""
    img = tmp_path / "bad.img"
    img.write_bytes(b"littlefs" + bytes(range(256)) * 4096)
    before = img.read_bytes()
    with pytest.raises(disk.DiskError, match="does not mount"):
        list(disk.walk(img))
    assert img.read_bytes() == before


def test_an_image_with_the_earlier_4k_blocks_still_reads(tmp_path: Path) -> None:
    img = tmp_path / "old.img"
    oldlfs.make_4k_image(img)
    assert disk.detect(img) == "lfs"
    assert disk.read(img, "/old.txt") == oldlfs.CONTENT
