"""The MicroPython unix port from the same pinned tree (deps/micropython), for comparison.

pyunik and this binary share the interpreter source, so differences come from
the platform: bare metal under QEMU's system emulation versus Linux, either
under qemu-user (the same TCG translator, but no softmmu: guest memory
accesses are host accesses) or inside a Linux guest under the same
qemu-system as pyunik.

The binary is the one `invoke conformance` uses (pyunik.conformance builds it
into build/unix-port/: standard variant, the features that need the +ds
tree's empty submodules off, nothing frozen). Since nothing is frozen,
asyncio is imported from the tree's extmod/asyncio through MICROPYPATH; it
is compiled once at import, outside every timed section, and then runs the
same bytecode as pyunik's frozen copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import common
from pyunik import conformance

QEMU_USER = "qemu-x86_64"
#: Where `import asyncio` finds extmod/asyncio (the package directory's parent).
ASYNCIO_PARENT = common.MICROPYTHON / "extmod"

_built: Path | None = None


def build() -> Path:
    """The unix port's `micropython` binary, made once per run (make is incremental)."""
    global _built
    if _built is None:
        common.log("building the unix port (pyunik.conformance.build_unix_port -> build/unix-port)")
        try:
            _built = conformance.build_unix_port(conformance.micropython_tree())
        except conformance.ConformanceError as exc:
            raise common.BenchError(str(exc)) from None
    return _built


def env() -> dict[str, str]:
    """The environment for the unix port: asyncio from the pinned tree, nothing from ~/.micropython."""
    return {**os.environ, "MICROPYPATH": f".frozen:{ASYNCIO_PARENT}"}


def qemu_user_argv(heap_bytes: int, script: Path, *args: str) -> list[str]:
    """Run a script with the unix port under qemu-user (Debian's qemu-x86_64)."""
    return [QEMU_USER, str(build()), "-X", f"heapsize={heap_bytes}", str(script), *args]


def describe() -> dict[str, object]:
    binary = build()
    return {
        "binary": str(binary.relative_to(common.ROOT)),
        "bytes": binary.stat().st_size,
        "built_by": "pyunik.conformance.build_unix_port",
        "make_options": list(conformance.UNIX_MAKE_OPTIONS),
        "qemu_user": QEMU_USER,
    }
