"""Sizes as board files, QEMU's ``-m`` and disk images write them.

One parser for every caller: "32M", "1434K", "1G", "16MiB", "512kb" or a
plain byte count. A board's ``memory`` must carry a unit (:func:`is_memory`),
because QEMU reads a bare ``-m 32`` as MiB while a disk size is bytes.
"""

from __future__ import annotations

import re

_SIZE = re.compile(r"([0-9]+)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)
_SCALE = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_MEMORY = re.compile(r"[1-9][0-9]*[KMG]")


class SizeError(ValueError):
    """Text that is not a size; the message says what would be one."""


def to_bytes(text: str) -> int:
    """``text`` in bytes: "1434K" is 1468416, "4096" is 4096."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise SizeError(f"size '{text}' is not a size; fix: give one like 32M, 1434K or 1G")
    return int(found.group(1)) * _SCALE[found.group(2).upper()]


def kibibytes(text: str) -> int:
    """``text`` in whole KiB, rounded up (libvirt's <memory unit="KiB">)."""
    return -(-to_bytes(text) // (1 << 10))


def mebibytes(text: str) -> int:
    """``text`` in whole MiB, rounded up and at least 1 (xl's memory=):
    "1434K" is 2, never 1, so a guest gets at least the RAM its board asks."""
    return max(1, -(-to_bytes(text) // (1 << 20)))


def is_memory(text: str) -> bool:
    """Whether ``text`` is a board ``memory`` value: digits and K, M or G."""
    return _MEMORY.fullmatch(text) is not None
