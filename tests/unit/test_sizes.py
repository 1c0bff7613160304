"""pyunik.sizes: the one size parser (boards, QEMU -m, xl, libvirt, disks)."""

from __future__ import annotations

import pytest

from pyunik import sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32M", 32 << 20),
        ("1434K", 1434 << 10),
        ("1G", 1 << 30),
        ("4096", 4096),
        ("16MiB", 16 << 20),
        ("512kb", 512 << 10),
    ],
)
def test_to_bytes(text: str, expected: int) -> None:
    assert sizes.to_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "mib"), [("32M", 32), ("1434K", 2), ("1G", 1024), ("1048576", 1), ("512k", 1), ("1M", 1)]
)
def test_mebibytes_round_up(text: str, mib: int) -> None:
    # "1434K" once became 1 MiB (tasks.py truncated it): less RAM than the board asks.
    assert sizes.mebibytes(text) == mib


def test_kibibytes() -> None:
    assert sizes.kibibytes("1434K") == 1434
    assert sizes.kibibytes("32M") == 32768
    assert sizes.kibibytes("1025") == 2


@pytest.mark.parametrize("text", ["", "lots", "32Q", "-1M", "1.5M"])
def test_not_a_size_is_one_clear_error(text: str) -> None:
    with pytest.raises(sizes.SizeError, match="fix: give one like 32M"):
        sizes.to_bytes(text)


def test_board_memory_needs_a_unit() -> None:
    assert sizes.is_memory("1434K") and sizes.is_memory("32M")
    assert not sizes.is_memory("32") and not sizes.is_memory("0M") and not sizes.is_memory("32m")
