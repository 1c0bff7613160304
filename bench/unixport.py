"""The MicroPython unix port from the same pinned tree (deps/micropython), for comparison.

pyunik and this binary share the interpreter source, so differences come from
the platform: bare metal under QEMU's system emulation versus Linux, either
under qemu-user (the same TCG translator, but no softmmu: guest memory
accesses are host accesses) or inside a Linux guest under the same
qemu-system as pyunik.

Two builds, so that a ratio says how much is the platform and how much is
configuration:

- "upstream": the binary `invoke conformance` uses (rigs.conformance builds
  it into build/unix-port/: standard variant as upstream configures it, the
  features that need the +ds tree's empty submodules off, nothing frozen);
- "tuned": the same, with pyunik's interpreter settings (port/mpconfigport.h,
  port/Makefile, port/gcpace.c): a 256-entry 32-bit GC mark stack, module
  globals that start as a 61-slot table, GC pacing by the heap in use, -O2 on
  runtime.c and objgenerator.c and LTO over the whole link, into
  build/unix-port-tuned/. The pacing comes in as a user C module
  (bench/unix_tuned/), the rest as make variables: the unix port's sources
  are not patched. The goals are read against this build. Since nothing is frozen,
asyncio is imported from the tree's extmod/asyncio through MICROPYPATH; it
is compiled once at import, outside every timed section, and then runs the
same bytecode as pyunik's frozen copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import common
from rigs import conformance

QEMU_USER = "qemu-x86_64"
#: Where `import asyncio` finds extmod/asyncio (the package directory's parent).
ASYNCIO_PARENT = common.MICROPYTHON / "extmod"

UPSTREAM, TUNED = "upstream", "tuned"
BUILDS = (UPSTREAM, TUNED)
TUNED_DIR = common.ROOT / "build" / "unix-port-tuned"
#: pyunik's settings, as make arguments of the unix port (see the module docstring).
TUNED_MAKE_OPTIONS: tuple[str, ...] = (
    "CFLAGS_EXTRA=-DMICROPY_ALLOC_GC_STACK_SIZE=256 -DMICROPY_GC_STACK_ENTRY_TYPE=uint32_t "
    "-DMICROPY_MODULE_DICT_SIZE=61 -flto=auto",
    "LDFLAGS_EXTRA=-flto=auto -Os",
    f"USER_C_MODULES={Path(__file__).resolve().parent / 'unix_tuned'}",
)

_built: dict[str, Path] = {}


def build(which: str = UPSTREAM) -> Path:
    """The unix port's `micropython` binary of one build, made once per run (make is incremental)."""
    if which not in _built:
        try:
            if which == UPSTREAM:
                common.log("building the unix port (rigs.conformance.build_unix_port -> build/unix-port)")
                _built[which] = conformance.build_unix_port(conformance.micropython_tree())
            else:
                common.log("building the unix port with pyunik's settings -> build/unix-port-tuned")
                _built[which] = conformance.build_unix_port(
                    conformance.micropython_tree(), build_dir=TUNED_DIR, extra=TUNED_MAKE_OPTIONS
                )
        except conformance.ConformanceError as exc:
            raise common.BenchError(str(exc)) from None
    return _built[which]


def env() -> dict[str, str]:
    """The environment for the unix port: asyncio from the pinned tree, nothing from ~/.micropython."""
    return {**os.environ, "MICROPYPATH": f".frozen:{ASYNCIO_PARENT}"}


def qemu_user_argv(heap_bytes: int, script: Path, *args: str, which: str = UPSTREAM) -> list[str]:
    """Run a script with the unix port under qemu-user (Debian's qemu-x86_64)."""
    return [QEMU_USER, str(build(which)), "-X", f"heapsize={heap_bytes}", str(script), *args]


def describe() -> dict[str, object]:
    described: dict[str, object] = {"built_by": "rigs.conformance.build_unix_port", "qemu_user": QEMU_USER}
    for which in BUILDS:
        binary = build(which)
        options = list(conformance.UNIX_MAKE_OPTIONS) + (list(TUNED_MAKE_OPTIONS) if which == TUNED else [])
        described[which] = {
            "binary": str(binary.relative_to(common.ROOT)),
            "bytes": binary.stat().st_size,
            "make_options": options,
        }
    return described
