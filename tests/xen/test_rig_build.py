"""The rig's assembly helpers, without booting anything: module load order,
the vmlinux unpacker (the cpio writer: tests/unit/test_cpio.py), sizes and xl strings."""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from rigs import xenrig
from rigs.xenrig import XenRigError


def test_modules_load_after_their_dependencies() -> None:
    depends = {"9p": ["9pnet", "netfs", "fscache"], "9pnet": [], "netfs": ["fscache"], "fscache": [], "xenfs": []}
    order = xenrig._load_order(["xenfs", "9p"], depends)
    assert order == ["xenfs", "9pnet", "fscache", "netfs", "9p"]


def test_module_cycles_and_unknown_modules_are_errors() -> None:
    with pytest.raises(XenRigError, match="cycle: a -> b -> a"):
        xenrig._load_order(["a"], {"a": ["b"], "b": ["a"]})
    with pytest.raises(XenRigError, match="xen_evtchn is not in the kernel package"):
        xenrig._load_order(["xen-evtchn"], {})


MODULE_C = r"""
__attribute__((section(".modinfo"), used))
static const char m[] = "name=pyunik_t\0depends=xen-evtchn,9pnet\0name=again";
int pyunik_t_init(void) { return 0; }
"""


def test_modinfo_is_read_from_a_real_object_file(tmp_path: Path) -> None:
    """A kernel module is a relocatable ELF whose .modinfo holds key=value
    strings; gcc makes one here and pyelftools reads it (the first value wins)."""
    if shutil.which("gcc") is None:
        pytest.skip("no gcc: run ./bootstrap.sh")
    (tmp_path / "m.c").write_text(MODULE_C)
    subprocess.run(["gcc", "-c", "-o", str(tmp_path / "m.ko"), str(tmp_path / "m.c")], check=True)
    info = xenrig._modinfo((tmp_path / "m.ko").read_bytes())
    assert info == {"name": "pyunik_t", "depends": "xen-evtchn,9pnet"}
    with pytest.raises(XenRigError, match="not an ELF file"):
        xenrig._modinfo(b"MZ" + bytes(100))


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
