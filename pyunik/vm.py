"""Starting an image under QEMU, and reading its exit status back.

On a board with the isa-debug-exit plugin the guest ends by writing its exit
status n to that device (the plugin adds it to the command line, through the
image's ``qemu_args``), which makes QEMU exit with (n << 1) | 1;
:func:`guest_status` undoes that. Without the plugin the guest halts instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tty
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import serial

from pyunik.board import Board

QEMU = "qemu-system-x86_64"
#: The exit status pvboot uses for a CPU exception (see pvboot.h).
EXIT_FAULT = 125
#: A stack canary was found overwritten (pvboot's __stack_chk_fail).
EXIT_STACK_SMASH = 126


#: One vCPU, no default devices, no user config, no display, no monitor:
#: every QEMU this project starts (pyunik, the Xen rig, the benchmarks).
HEADLESS = ("-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none")


class VmError(Exception):
    """QEMU could not be started; the message says why."""


def has_hardware_virtualisation(cpuinfo: str | None = None) -> bool:
    """True when the host CPU shows VMX or SVM and /dev/kvm exists.

    /dev/kvm alone is not enough: on some hosts it is an emulating KVM that
    is far slower than TCG for a guest like ours (a KVM-PVM host measured a
    loop ~2,400x slower than under TCG).
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


def netdev_spec(text: str) -> str:
    """A ``--net`` option as QEMU's -netdev wants it (without the id).

    ``user`` and ``user:hostfwd=tcp:127.0.0.1:8080-:80`` give QEMU's user
    network; ``tap:IFNAME`` an existing tap device (no scripts run); any
    other text is passed through as a -netdev description.
    """
    kind, sep, rest = text.partition(":")
    if kind == "tap" and sep:
        if not rest or "," in rest or "=" in rest:
            raise VmError(f"--net {text!r}: give tap:IFNAME, e.g. tap:tap0")
        return f"tap,ifname={rest},script=no,downscript=no"
    if kind == "user" and sep:
        return f"user,{rest}" if rest else "user"
    if text.split(",", 1)[0] not in ("user", "tap", "socket", "bridge", "stream", "dgram"):
        raise VmError(f"--net {text!r}: use user[:OPTIONS] or tap:IFNAME")
    return text


def nic_args(board: Board, nets: Sequence[str]) -> list[str]:
    """-netdev/-device pairs for ``nets``: virtio-net on the board's
    transport (virtio-mmio on microvm, modern virtio-pci elsewhere)."""
    model = "virtio-net-device" if board.vm.machine == "microvm" else "virtio-net-pci,disable-legacy=on"
    args: list[str] = []
    for i, net in enumerate(nets):
        args += ["-netdev", f"{netdev_spec(net)},id=net{i}", "-device", f"{model},netdev=net{i}"]
    return args


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
    net: Sequence[str] = (),
    gdb_port: int | None = None,
    wait_for_gdb: bool = False,
) -> QemuCommand:
    """The QEMU argv that boots ``kernel`` as ``board`` describes.

    ``serial`` is a QEMU chardev for the console: ``stdio``, ``pty``,
    ``tcp:127.0.0.1:PORT,server=on,wait=on`` ... ``-monitor none`` rather
    than ``-nographic`` keeps Ctrl-A for the raw REPL. ``net`` gives one
    NIC per entry (see :func:`netdev_spec`). ``gdb_port`` opens
    QEMU's gdbstub on 127.0.0.1 (``-gdb``); ``wait_for_gdb`` holds the CPU
    before its first instruction until gdb says continue (``-S``).
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
        *HEADLESS,
        "-serial",
        serial,
        "-kernel",
        str(kernel),
    ]
    line = board.vm.cmdline if cmdline is None else cmdline
    if line:
        argv += ["-append", line]
    if gdb_port is not None:
        argv += ["-gdb", f"tcp:127.0.0.1:{gdb_port}"]
    if wait_for_gdb:
        argv += ["-S"]
    argv += list(plugin_args) + nic_args(board, net) + list(board.vm.args) + list(extra)
    return QemuCommand(tuple(argv), chosen)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (tests run side
    by side, so never a fixed one such as gdb's usual 1234)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def disk_args(board: Board, images: Sequence[Path], blkdebug: Path | None = None) -> list[str]:
    """QEMU arguments that give the guest ``images`` as virtio-blk disks, in
    order (disk 0 first): a virtio-mmio device on microvm, a modern-only
    PCI device elsewhere. Raw images, written through to the file
    (cache=writeback still honours the guest's FLUSH; QEMU acknowledges a
    write only once the host has it).

    ``blkdebug`` puts QEMU's blkdebug driver between each disk and its file,
    with that config file's rules (``[inject-error]`` sections make chosen
    reads or writes fail): for tests of how the guest takes device errors."""
    argv: list[str] = []
    for n, image in enumerate(images):
        if not image.is_file():
            raise VmError(f"disk '{image}' does not exist; fix: make one with `invoke disk.create {image}`")
        # QEMU quotes nothing: a comma in a path would split the option.
        path = str(image.resolve()).replace(",", ",,")
        if blkdebug is None:
            source = f"file={path}"
        else:
            config = str(blkdebug.resolve()).replace(",", ",,")
            source = f"file.driver=blkdebug,file.config={config},file.image.filename={path}"
        argv += ["-drive", f"{source},if=none,id=disk{n},format=raw,cache=writeback"]
        if board.vm.machine == "microvm":
            argv += ["-device", f"virtio-blk-device,drive=disk{n}"]
        else:
            argv += ["-device", f"virtio-blk-pci,disable-legacy=on,drive=disk{n}"]
    return argv


def qmp(path: Path, command: str, **arguments: object) -> dict[str, object]:
    """One QMP command on QEMU's monitor socket (``-qmp unix:PATH,server=on,wait=off``),
    capabilities negotiated first; the reply (``return`` or ``error``)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        stream = sock.makefile("rwb")
        json.loads(stream.readline())  # greeting
        for message in ({"execute": "qmp_capabilities"}, {"execute": command, "arguments": arguments}):
            stream.write(json.dumps(message).encode() + b"\n")
            stream.flush()
            while True:
                reply: dict[str, object] = json.loads(stream.readline())
                if "return" in reply or "error" in reply:  # events come in between
                    break
        return reply


def require_qemu() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise VmError(f"{QEMU} not found; install Debian's qemu-system-x86 (`invoke deps` does)")
    return path


def _release(proc: subprocess.Popen[bytes], fds: tuple[int, int], consoles: list[serial.Serial]) -> None:
    """Stop QEMU (if it still runs), close the console ports opened on the
    pty and the pty's two descriptors."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for port in consoles:
        port.close()
    consoles.clear()
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass
class Running:
    """A QEMU process whose console is the slave side of a pty we own.

    ``pty`` is a path that mpremote and run-tests.py can open; readers that
    must see the guest's first bytes take :meth:`console` instead. We keep a
    descriptor of the slave open ourselves: the pty then buffers everything
    the guest writes until a reader comes - QEMU's own ``-serial pty`` drops
    output while nobody has the pty open, which loses the banner.

    :meth:`close` (or leaving a ``with`` block) stops QEMU and closes the
    console ports and both descriptors. A Running dropped without it does the same when it is
    collected (or at exit), so a process that boots a thousand guests does
    not run out of descriptors (select() stops at 1024).
    """

    proc: subprocess.Popen[bytes]
    pty: str
    _master: int
    _slave: int
    _console: serial.Serial | None = None

    def __post_init__(self) -> None:
        # What the finalizer closes: every console port opened on the pty.
        self._consoles: list[serial.Serial] = [] if self._console is None else [self._console]
        self._release = weakref.finalize(self, _release, self.proc, (self._master, self._slave), self._consoles)

    def console(self, timeout: float | None = None) -> serial.Serial:
        """The console as a pyserial port that has seen everything the guest
        printed. pyserial discards what waits on a tty when it opens one
        (``Serial.open`` flushes the input queue), so a port opened after the
        guest printed its banner would never see it (under load, CI saw tests
        wait 20 s for a ``>>>`` that had come and gone). This one was opened
        before QEMU started; once it is closed, a new one is opened (and sees
        only what comes after)."""
        if self._console is None or not self._console.is_open:
            self._console = serial.Serial(self.pty)
            self._consoles[:] = [*(port for port in self._consoles if port.is_open), self._console]
        self._console.timeout = timeout
        return self._console

    def close(self) -> None:
        """Stop QEMU (if it still runs) and release the pty; again is harmless."""
        self._release()
        self._master = self._slave = -1

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _die_with_parent() -> Callable[[], None]:
    """A preexec_fn: SIGKILL when the thread that started the child ends.
    prctl is looked up here, in the parent: the child only calls it (no
    import or allocation between fork and exec, where another thread's lock
    could be held)."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


def start_with_pty(command: QemuCommand, log: Path | None = None, die_with_parent: bool = False) -> Running:
    """Start QEMU with its serial console on a new pty (``-serial stdio``
    wired to the pty's master side); QEMU's own messages go to ``log``.
    With ``die_with_parent`` QEMU is killed when this thread ends (a rig
    that runs for long, e.g. Xen: a killed test run leaves nothing behind).
    Every QEMU this project starts on a pty starts here."""
    require_qemu()
    argv = list(command.argv)
    if "-serial" in argv:
        argv[argv.index("-serial") + 1] = "stdio"
    master, slave = os.openpty()
    tty.setraw(slave)
    # Opened before QEMU starts, so that it has every byte (see Running.console).
    console = serial.Serial(os.ttyname(slave))
    err = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            argv,
            stdin=master,
            stdout=master,
            stderr=err,
            start_new_session=True,
            preexec_fn=_die_with_parent() if die_with_parent else None,
        )
    except OSError as exc:
        console.close()
        os.close(master)
        os.close(slave)
        raise VmError(f"cannot start {argv[0]}: {exc}") from None
    finally:
        if log:
            err.close()  # type: ignore[union-attr]
    return Running(proc, os.ttyname(slave), master, slave, console)


def run_interactive(command: QemuCommand) -> int:
    """Boot, attach this terminal to the console, and return the guest's
    exit status (or 0 when the user left with Ctrl-] and QEMU was stopped)."""
    from pyunik import console

    running = start_with_pty(command)
    try:
        left = console.attach(running.console(timeout=0), qemu=running.proc)
    finally:
        running.close()
    if left:
        return 0
    return guest_status(running.proc.returncode)
