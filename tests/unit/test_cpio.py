"""rigs.cpio: the newc archives the Xen rig and the Linux guest boot with."""

from __future__ import annotations

import stat

from rigs.cpio import Cpio


def entries(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    """(name, mode, body, rdev) of each entry, read as the kernel's init/initramfs.c does."""
    out = []
    offset = 0
    while True:
        assert offset % 4 == 0 and data[offset : offset + 6] == b"070701", offset
        fields = [int(data[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        name_size, body_size = fields[11], fields[6]
        name_start = offset + 110
        name = data[name_start : name_start + name_size]
        assert name.endswith(b"\0")
        body_start = name_start + name_size + (-(110 + name_size) % 4)
        body = data[body_start : body_start + body_size]
        out.append((name[:-1].decode(), fields[1], body, (fields[9], fields[10])))
        offset = body_start + body_size + (-body_size % 4)
        if name == b"TRAILER!!!\0":
            assert offset == len(data)
            return out


def test_entries_round_trip_with_parents_first() -> None:
    archive = Cpio()
    archive.file("/etc/xen/xl.conf", b"# xl\n")
    archive.symlink("var/run", "/run")
    archive.char_device("dev/console", 5, 1)
    archive.directory("etc")  # already there: not again
    archive.file("init", b"#!/bin/sh\n", 0o755)
    got = entries(archive.finish())
    names = [name for name, *_ in got]
    assert names == ["etc", "etc/xen", "etc/xen/xl.conf", "var", "var/run", "dev", "dev/console", "init", "TRAILER!!!"]
    by_name = {name: (mode, body, rdev) for name, mode, body, rdev in got}
    assert by_name["etc/xen/xl.conf"] == (stat.S_IFREG | 0o644, b"# xl\n", (0, 0))
    assert by_name["var/run"] == (stat.S_IFLNK | 0o777, b"/run", (0, 0))
    assert by_name["dev/console"] == (stat.S_IFCHR | 0o600, b"", (5, 1))
    assert by_name["init"][0] == stat.S_IFREG | 0o755
    assert stat.S_ISDIR(by_name["etc"][0])
