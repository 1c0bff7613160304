"""Run an app from examples/ on the MicroPython unix port built from the pinned tree.

The unix port's `socket` and `asyncio` are the API the image has (modlwip
follows the same socket interface), so the network examples can be checked
with host clients on 127.0.0.1 without booting anything. pyunik's frozen
`cmdline` module runs unchanged; only `pvboot.cmdline()` is stood in for
(bench/unixshim/pvboot.py reads PYUNIK_CMDLINE).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from pyunik import board as boards

ROOT = boards.ROOT
EXAMPLES = ROOT / "examples"
SEARCH_PATH = (
    EXAMPLES / "httpd",  # netup.py, which the echo app shares
    ROOT / "port" / "frozen",
    ROOT / "bench" / "unixshim",
    ROOT / "deps" / "micropython" / "extmod",  # asyncio
)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing on 127.0.0.1 uses now (other engineers' tests run at the same time)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env(app: Path, cmdline: str) -> dict[str, str]:
    path = ":".join(str(p) for p in (app, *SEARCH_PATH))
    return {**os.environ, "MICROPYPATH": f".frozen:{path}", "PYUNIK_CMDLINE": cmdline}


@contextlib.contextmanager
def running(
    binary: Path, app: Path, cmdline: str, ready: bytes, timeout: float = 20
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``app``'s main.py on the unix port and wait for ``ready`` on its stdout."""
    proc = subprocess.Popen(
        [str(binary), "-X", "heapsize=4M", str(app / "main.py")],
        env=env(app, cmdline),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        seen = b""
        deadline = time.monotonic() + timeout
        while ready not in seen:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{app.name} did not print {ready!r}: {seen.decode(errors='replace')}")
            seen += proc.stdout.read() or b""
            time.sleep(0.02)
        yield proc
        assert proc.poll() is None, f"{app.name} exited ({proc.returncode}): {proc.stdout.read()!r}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
