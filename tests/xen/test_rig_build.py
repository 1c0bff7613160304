"""The rig's assembly helpers, without booting anything: module load order,
the cpio writer, the vmlinux unpacker, sizes and xl strings."""

from __future__ import annotations

import gzip
import struct

import pytest

from pyunik import xenrig
from pyunik.xenrig import XenRigError


def test_modules_load_after_their_dependencies() -> None:
    depends = {"9p": ["9pnet", "netfs", "fscache"], "9pnet": [], "netfs": ["fscache"], "fscache": [], "xenfs": []}
    order = xenrig._load_order(["xenfs", "9p"], depends)
    assert order == ["xenfs", "9pnet", "fscache", "netfs", "9p"]


def test_module_cycles_and_unknown_modules_are_errors() -> None:
    with pytest.raises(XenRigError, match="cycle: a -> b -> a"):
        xenrig._load_order(["a"], {"a": ["b"], "b": ["a"]})
    with pytest.raises(XenRigError, match="xen_evtchn is not in the kernel package"):
        xenrig._load_order(["xen-evtchn"], {})


def _parse_newc(data: bytes) -> list[tuple[str, int, bytes]]:
    """(name, mode, data) of each entry: the kernel's reading of the format."""
    entries: list[tuple[str, int, bytes]] = []
    offset = 0
    while True:
        assert data[offset : offset + 6] == b"070701"
        fields = [int(data[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_at = offset + 110
        name = data[name_at : name_at + namesize - 1].decode()
        body_at = name_at + namesize + (-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            return entries
        entries.append((name, mode, data[body_at : body_at + size]))
        offset = body_at + size + (-size % 4)


def test_cpio_newc_has_parents_first_and_aligned_entries() -> None:
    cpio = xenrig._Cpio()
    cpio.file("usr/lib/x/libfoo.so.1", b"abcde", 0o755)
    cpio.symlink("var/run", "/run")
    cpio.file("init", b"#!/bin/sh\n", 0o755)
    entries = _parse_newc(cpio.bytes())
    names = [name for name, _, _ in entries]
    assert names == ["usr", "usr/lib", "usr/lib/x", "usr/lib/x/libfoo.so.1", "var", "var/run", "init"]
    assert entries[3] == ("usr/lib/x/libfoo.so.1", 0o100755, b"abcde")
    assert entries[5] == ("var/run", 0o120777, b"/run")


def test_vmlinux_comes_out_of_a_bzimage() -> None:
    elf = b"\x7fELF" + bytes(60)
    header = bytearray(0x400)
    header[0x1F1] = 1  # one setup sector after the boot sector: payload base 1024
    struct.pack_into("<I", header, 0x248, 16)  # payload_offset from there
    bzimage = bytes(header) + bytes(16) + gzip.compress(elf)
    assert xenrig._vmlinux_from_bzimage(bzimage) == elf


@pytest.mark.parametrize(("size", "mb"), [("32M", 32), ("1434K", 2), ("1G", 1024), ("1048576", 1), ("512k", 1)])
def test_megabytes(size: str, mb: int) -> None:
    assert xenrig.megabytes(size) == mb


def test_xl_strings() -> None:
    assert xenrig._xl_string("limit=10 -- a b") == '"limit=10 -- a b"'
    assert xenrig._xl_string('say="hi"') == "'say=\"hi\"'"
    with pytest.raises(XenRigError):
        xenrig._xl_string("two\nlines")
