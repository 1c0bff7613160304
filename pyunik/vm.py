"""Starting an image under QEMU, and reading its exit status back.

The guest ends by writing its exit status n to QEMU's isa-debug-exit device,
which makes QEMU exit with (n << 1) | 1; :func:`guest_status` undoes that.
"""

from __future__ import annotations

import re
import select
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyunik.board import Board

QEMU = "qemu-system-x86_64"
#: The exit status pvboot uses for a CPU exception (see pvboot.h).
EXIT_FAULT = 125

_PTY_RE = re.compile(r"char device redirected to (/dev/pts/\d+)")


class VmError(Exception):
    """QEMU could not be started; the message says why."""


def has_hardware_virtualisation(cpuinfo: str | None = None) -> bool:
    """True when the host CPU shows VMX or SVM and /dev/kvm exists.

    /dev/kvm alone is not enough: on some hosts it is an emulating KVM that
    is far slower than TCG for a guest like ours (see ENVIRONMENT.md).
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return bool(flags & {"vmx", "svm"}) and Path("/dev/kvm").exists()


def choose_accel(requested: str) -> str:
    """``auto`` becomes kvm where there is hardware virtualisation, else tcg."""
    if requested == "auto":
        return "kvm" if has_hardware_virtualisation() else "tcg"
    return requested


def guest_status(qemu_returncode: int) -> int:
    """The guest's exit status from QEMU's: isa-debug-exit gives odd codes.

    An even code (0 when QEMU was asked to quit, or an error of QEMU's own)
    is returned as it is.
    """
    if qemu_returncode > 0 and qemu_returncode & 1:
        return qemu_returncode >> 1
    return qemu_returncode


@dataclass(frozen=True)
class QemuCommand:
    """A QEMU command line for a board's image."""

    argv: tuple[str, ...]
    accel: str


def qemu_command(
    board: Board,
    kernel: Path,
    serial: str = "stdio",
    accel: str | None = None,
    memory: str | None = None,
    cmdline: str | None = None,
    extra: Sequence[str] = (),
    plugin_args: Sequence[str] = (),
) -> QemuCommand:
    """The QEMU argv that boots ``kernel`` as ``board`` describes.

    ``serial`` is a QEMU chardev for the console: ``stdio``, ``pty``,
    ``tcp:127.0.0.1:PORT,server=on,wait=on`` ... ``-monitor none`` rather
    than ``-nographic`` keeps Ctrl-A for the raw REPL.
    """
    chosen = choose_accel(accel or board.vm.accel)
    argv = [
        QEMU,
        "-M",
        board.vm.machine,
        "-accel",
        chosen,
        *(["-cpu", "host"] if chosen == "kvm" else []),
        "-m",
        memory or board.memory,
        "-smp",
        "1",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        serial,
        "-kernel",
        str(kernel),
    ]
    line = board.vm.cmdline if cmdline is None else cmdline
    if line:
        argv += ["-append", line]
    argv += list(plugin_args) + list(board.vm.args) + list(extra)
    return QemuCommand(tuple(argv), chosen)


def require_qemu() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise VmError(f"{QEMU} not found; install Debian's qemu-system-x86 (`invoke deps` does)")
    return path


def start_with_pty(command: QemuCommand, timeout: float = 10.0) -> tuple[subprocess.Popen[str], str]:
    """Start QEMU with its console on a new pty; returns (process, pty path).

    QEMU announces the pty on stdout ("char device redirected to ...").
    """
    require_qemu()
    proc = subprocess.Popen(
        command.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    seen = []
    lines_left = 50
    while lines_left:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = _PTY_RE.search(line)
        if match:
            return proc, match.group(1)
        lines_left -= 1
    proc.kill()
    proc.wait()
    raise VmError("QEMU did not announce its serial pty: " + "".join(seen).strip())


def run_interactive(command: QemuCommand) -> int:
    """Boot, attach this terminal to the console, and return the guest's
    exit status (or 0 when the user left with Ctrl-] and QEMU was stopped)."""
    from pyunik import console

    proc, pty = start_with_pty(command)
    try:
        left = console.attach(pty, qemu=proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if left:
        return 0
    return guest_status(proc.returncode)
