"""The guest's serial console, attached to your terminal through pyserial.

Ctrl-] leaves (and stops QEMU); every other key, Ctrl-A/B/C/D/E included,
goes to the guest, so the friendly REPL, paste mode and the raw REPL all work.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import termios
import tty
from collections.abc import Iterator
from typing import BinaryIO

import serial

EXIT_KEY = b"\x1d"  # Ctrl-]


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def open_serial(url: str, timeout: float = 0) -> serial.SerialBase:
    """A pyserial port for a pty path or any pyserial URL (socket://...)."""
    return serial.serial_for_url(url, baudrate=115200, timeout=timeout)


def _drain(port: serial.SerialBase, out: BinaryIO) -> None:
    """Show what the guest wrote just before QEMU exited."""
    with contextlib.suppress(serial.SerialException, OSError):
        while data := port.read(port.in_waiting or 0):
            out.write(data)
    out.flush()


def attach(url: str | serial.SerialBase, qemu: subprocess.Popen[str] | None = None) -> bool:
    """Copy between this terminal and the console at ``url`` (a path or URL,
    or a port already open: see vm.Running.console for why).

    Returns True when the user left with Ctrl-], False when the guest side
    went away (QEMU exited).
    """
    port = open_serial(url) if isinstance(url, str) else url
    stdin_fd = sys.stdin.fileno()
    out = sys.stdout.buffer
    stdin_open = True
    with raw_terminal(stdin_fd):
        try:
            while True:
                if qemu is not None and qemu.poll() is not None:
                    _drain(port, out)
                    return False
                watched = [port.fileno()] + ([stdin_fd] if stdin_open else [])
                ready, _, _ = select.select(watched, [], [], 0.2)
                if port.fileno() in ready:
                    try:
                        data = port.read(port.in_waiting or 1)
                    except serial.SerialException:
                        return False
                    out.write(data)
                    out.flush()
                if stdin_fd in ready:
                    keys = os.read(stdin_fd, 1024)
                    if not keys:
                        # End of input (not a terminal): keep showing the
                        # guest until it ends.
                        stdin_open = False
                        continue
                    if EXIT_KEY in keys:
                        keys = keys[: keys.index(EXIT_KEY)]
                        if keys:
                            port.write(keys)
                        return True
                    port.write(keys)
        finally:
            port.close()
