"""A "newc" (070701) cpio archive, the format Linux unpacks as an initramfs.

Written directly, so no cpio package is needed: the Xen rig's dom0
(rigs/xenrig.py) and the benchmark's Linux guest (bench/linux.py) both
build theirs with it. Parent directories are added once, before what they
hold; owner and group are root, times zero (the same input gives the same
bytes).
"""

from __future__ import annotations

import os
import stat


class Cpio:
    """An archive being written: add entries, then :meth:`finish`."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._ino = 0
        self._dirs: set[str] = set()

    def _entry(self, name: str, mode: int, body: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        self._ino += 1
        encoded = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, 1, 0, len(body), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08x" % f for f in fields)
        # The name is padded so that the body starts on 4 bytes; the body likewise.
        self._chunks.append(header + encoded + b"\0" * (-(len(header) + len(encoded)) % 4))
        self._chunks.append(body + b"\0" * (-len(body) % 4))

    def _parent(self, name: str) -> str:
        name = name.strip("/")
        self.directory(os.path.dirname(name))
        return name

    def directory(self, name: str) -> None:
        """A directory (and its parents), once."""
        name = name.strip("/")
        if not name or name in self._dirs:
            return
        self.directory(os.path.dirname(name))
        self._dirs.add(name)
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, body: bytes, mode: int = 0o644) -> None:
        self._entry(self._parent(name), stat.S_IFREG | mode, body)

    def symlink(self, name: str, target: str) -> None:
        self._entry(self._parent(name), stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(self._parent(name), stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        """The archive's bytes, with the trailer the kernel stops at."""
        self._entry("TRAILER!!!", 0)
        return b"".join(self._chunks)
