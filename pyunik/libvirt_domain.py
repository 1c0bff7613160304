"""A libvirt domain for a pyunik image: its XML, and running it through libvirt.

    invoke libvirt-xml --board B [--app A] [--net user|tap:IF|network:N|bridge:BR] [--disk IMG]
    virsh create build/B/pyunik.xml --console     # or: invoke run --on libvirt

The image boots directly (``<os><kernel>``) on the board's QEMU machine, the
console is the first 16550 UART as a pty (``virsh console``), NICs and disks
are virtio (virtio-mmio on microvm, virtio-pci on q35). Whatever libvirt has
no element for (isa-debug-exit, a board's extra QEMU arguments) goes through
``<qemu:commandline>``, which libvirt marks as a "custom-argv" taint.

How the guest's end reaches libvirt:

- exit status 0 (main.py ended, ``machine.deepsleep()``): the guest writes
  isa-debug-exit, QEMU exits on its own without telling libvirt why; libvirt
  reports the domain shut off with the lifecycle event "stopped, failed" and
  its log says ``shutting down, reason=crashed``. The status is not kept.
- any other status (an uncaught exception, ``sys.exit(3)``, a CPU fault):
  the guest reports a panic to the pvpanic device (``<panic model='isa'/>``),
  libvirt sees "crashed, panicked" and applies ``on_crash``: ``preserve``
  (the default here, as in the xl config) keeps it crashed for ``virsh dump``;
  ``destroy`` shuts it off with reason "crashed".
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyunik import sizes
from pyunik.board import Board

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
DEFAULT_URI = "qemu:///system"
ON_POWEROFF = "destroy"
ON_REBOOT = "restart"
ON_CRASH = "preserve"
CRASH_ACTIONS = ("destroy", "restart", "preserve", "coredump-destroy", "coredump-restart", "rename-restart")
#: QEMU's pvpanic ISA device, where pvboot reports a nonzero exit status.
PVPANIC_IOBASE = "0x505"


class DomainError(Exception):
    """A domain could not be described or run; the message says why."""


@dataclass(frozen=True)
class Nic:
    """One ``--net`` option: ``user``, ``tap:IF``, ``network:NAME`` or ``bridge:BR``."""

    kind: str
    name: str = ""

    @classmethod
    def parse(cls, spec: str) -> Nic:
        kind, _, name = spec.partition(":")
        if kind == "user" and not name:
            return cls("user")
        if kind in ("tap", "network", "bridge") and re.fullmatch(r"[A-Za-z0-9_.:-]+", name):
            return cls(kind, name)
        if kind == "user":
            raise DomainError(
                f"--net {spec!r}: libvirt's user network takes no QEMU options (hostfwd ...); "
                "fix: use --net user, or network:NAME / bridge:BR / tap:IF"
            )
        raise DomainError(f"--net {spec!r}: fix: use user, tap:IF, network:NAME or bridge:BR")


def kibibytes(size: str) -> int:
    """A board's memory ("32M", "1434K", "1G") in KiB."""
    try:
        return sizes.kibibytes(size)
    except sizes.SizeError as exc:
        raise DomainError(f"memory: {exc}") from None


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def render(
    board: Board,
    kernel: Path,
    name: str,
    memory: str | None = None,
    cmdline: str = "",
    nics: Sequence[Nic] = (),
    disks: Sequence[Path] = (),
    plugin_args: Sequence[str] = (),
    on_crash: str = ON_CRASH,
    emulator: str = "/usr/bin/qemu-system-x86_64",
) -> str:
    """The domain XML (libvirt's domain schema) that boots ``kernel`` as ``board`` describes."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise DomainError(f"domain name {name!r}: fix: use letters, digits, '.', '_' and '-'")
    if on_crash not in CRASH_ACTIONS:
        raise DomainError(f"on_crash {on_crash!r}: fix: use one of {', '.join(CRASH_ACTIONS)}")
    machine = board.vm.machine
    microvm = machine == "microvm"
    ET.register_namespace("qemu", QEMU_NS)
    domain = ET.Element("domain", {"type": "qemu"})  # TCG: KVM would be type="kvm"
    _sub(domain, "name", name)
    _sub(domain, "description", f"pyunik image {kernel.name}, board {board.name}")
    _sub(domain, "memory", str(kibibytes(memory or board.memory)), unit="KiB")
    _sub(domain, "vcpu", "1")
    os_ = _sub(domain, "os")
    _sub(os_, "type", "hvm", arch=board.arch, machine=machine)
    _sub(os_, "kernel", str(kernel.resolve()))
    if cmdline:
        _sub(os_, "cmdline", cmdline)
    if not microvm:
        # q35/pc: ACPI and the APIC as a full VM has them. On microvm, no
        # <acpi/> makes libvirt pass -no-acpi, and only then does QEMU list
        # the virtio-mmio devices on the kernel command line.
        features = _sub(domain, "features")
        _sub(features, "acpi")
        _sub(features, "apic")
    _sub(domain, "on_poweroff", ON_POWEROFF)
    _sub(domain, "on_reboot", ON_REBOOT)
    _sub(domain, "on_crash", on_crash)
    devices = _sub(domain, "devices")
    _sub(devices, "emulator", emulator)
    for index, image in enumerate(disks):
        disk = _sub(devices, "disk", type="file", device="disk")
        _sub(disk, "driver", name="qemu", type="raw")
        _sub(disk, "source", file=str(image.resolve()))
        _sub(disk, "target", dev=f"vd{chr(ord('a') + index)}", bus="virtio")
        if microvm:
            _sub(disk, "address", type="virtio-mmio")
    for nic in nics:
        kind = {"tap": "ethernet"}.get(nic.kind, nic.kind)
        interface = _sub(devices, "interface", type=kind)
        if nic.kind == "tap":
            _sub(interface, "target", dev=nic.name, managed="no")
        elif nic.kind in ("network", "bridge"):
            _sub(interface, "source", **{nic.kind: nic.name})
        _sub(interface, "model", type="virtio")
        if microvm:
            _sub(interface, "address", type="virtio-mmio")
    serial = _sub(devices, "serial", type="pty")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    if microvm:
        _sub(devices, "controller", type="usb", model="none")  # else libvirt wants a PCI bus
    _sub(devices, "memballoon", model="none")
    panic = _sub(devices, "panic", model="isa")
    _sub(panic, "address", type="isa", iobase=PVPANIC_IOBASE)
    extra = list(plugin_args) + list(board.vm.args)
    if microvm and (nics or disks):
        extra += ["-global", "virtio-mmio.force-legacy=false"]  # virtio 1.x transports
    if extra:
        passthrough = _sub(domain, f"{{{QEMU_NS}}}commandline")
        for arg in extra:
            _sub(passthrough, f"{{{QEMU_NS}}}arg", value=arg)
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"


# ---- Running a domain through libvirt-python -------------------------------

#: virDomainState names, for messages.
STATES = {0: "no state", 1: "running", 2: "blocked", 3: "paused", 4: "shutdown", 5: "shut off", 6: "crashed"}


def _libvirt() -> Any:
    try:
        import libvirt
    except ImportError:
        raise DomainError("libvirt-python is not installed; fix: ./bootstrap.sh (pip install libvirt-python)") from None
    # libvirt prints every failed call on stderr; we report our own errors, in one line.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


_event_loop_started = False


def _start_event_loop() -> None:
    """libvirt delivers lifecycle events only to a running event loop."""
    global _event_loop_started
    if _event_loop_started:
        return
    libvirt = _libvirt()
    libvirt.virEventRegisterDefaultImpl()

    def loop() -> None:
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, name="libvirt-events", daemon=True).start()
    _event_loop_started = True


@dataclass(frozen=True)
class Lifecycle:
    """One lifecycle event: ``event`` and ``detail`` as libvirt numbers them."""

    event: int
    detail: int

    def describe(self) -> str:
        libvirt = _libvirt()
        events = {
            libvirt.VIR_DOMAIN_EVENT_STARTED: "started",
            libvirt.VIR_DOMAIN_EVENT_SUSPENDED: "suspended",
            libvirt.VIR_DOMAIN_EVENT_RESUMED: "resumed",
            libvirt.VIR_DOMAIN_EVENT_STOPPED: "stopped",
            libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: "shutdown",
            libvirt.VIR_DOMAIN_EVENT_CRASHED: "crashed",
        }
        stopped = {
            libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: "shutdown",
            libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED: "destroyed",
            libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED: "crashed",
            libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED: "failed",
        }
        name = events.get(self.event, str(self.event))
        if self.event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
            return f"{name}, {stopped.get(self.detail, self.detail)}"
        if self.event == libvirt.VIR_DOMAIN_EVENT_CRASHED and self.detail == libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED:
            return f"{name}, panicked"
        return name


class Domain:
    """A transient domain started paused, with its console stream open
    before the guest runs (so the banner is not lost) and its lifecycle
    events recorded in ``events``."""

    def __init__(self, xml: str, uri: str = DEFAULT_URI) -> None:
        libvirt = _libvirt()
        _start_event_loop()
        self.events: list[Lifecycle] = []
        self._changed = threading.Condition()
        self.output = bytearray()
        try:
            self.conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise DomainError(f"cannot connect to libvirt at {uri}: {exc.get_error_message()}") from None
        self._callback = self.conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_event, None
        )
        try:
            self.dom = self.conn.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED)
            self.name = self.dom.name()
            self.stream = self.conn.newStream(0)
            self.dom.openConsole(None, self.stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        except libvirt.libvirtError as exc:
            self.close()
            raise DomainError(f"libvirt refused the domain: {exc.get_error_message()}") from None
        self._reader = threading.Thread(target=self._read_console, name="libvirt-console", daemon=True)
        self._reader.start()
        self.dom.resume()

    def _on_event(self, conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        if dom.name() == getattr(self, "name", None):
            with self._changed:
                self.events.append(Lifecycle(event, detail))
                self._changed.notify_all()

    def _read_console(self) -> None:
        libvirt = _libvirt()
        while True:
            try:
                data = self.stream.recv(4096)
            except libvirt.libvirtError:
                data = b""
            with self._changed:
                if not isinstance(data, bytes) or not data:
                    self.console_closed = True
                    self._changed.notify_all()
                    return
                self.output.extend(data)
                self._changed.notify_all()

    console_closed = False

    def send(self, data: bytes) -> None:
        self.stream.send(data)

    def expect(self, needle: bytes, timeout: float = 20.0, start: int = 0) -> int:
        """Wait until ``needle`` appears in the console output after ``start``;
        returns the offset just past it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (at := self.output.find(needle, start)) < 0:
                left = deadline - time.monotonic()
                if left <= 0 or self.console_closed:
                    raise DomainError(f"{needle!r} not seen on the console; it showed {bytes(self.output[-300:])!r}")
                self._changed.wait(left)
        return at + len(needle)

    def wait_event(self, event: int, timeout: float = 20.0) -> Lifecycle:
        """Wait for a lifecycle event of this kind; returns it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (found := [e for e in self.events if e.event == event]):
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = ", ".join(e.describe() for e in self.events) or "none"
                    raise DomainError(f"no such lifecycle event within {timeout:.0f} s (events: {seen})")
                self._changed.wait(left)
        return found[0]

    def state(self) -> tuple[str, int] | None:
        """(state name, reason number), or None when libvirt no longer has it."""
        libvirt = _libvirt()
        try:
            state, reason = self.dom.state()
        except libvirt.libvirtError:
            return None
        return STATES.get(state, str(state)), reason

    def destroy(self) -> None:
        libvirt = _libvirt()
        with contextlib.suppress(libvirt.libvirtError):
            self.dom.destroy()

    def close(self) -> None:
        libvirt = _libvirt()
        if hasattr(self, "stream"):
            with contextlib.suppress(libvirt.libvirtError):
                self.stream.abort()
        if hasattr(self, "dom"):
            self.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            self.conn.domainEventDeregisterAny(self._callback)
        with contextlib.suppress(libvirt.libvirtError):
            self.conn.close()


@contextlib.contextmanager
def started(xml: str, uri: str = DEFAULT_URI) -> Iterator[Domain]:
    """A transient domain for the duration of a ``with``; destroyed after."""
    domain = Domain(xml, uri)
    try:
        yield domain
    finally:
        domain.close()


def run_interactive(xml: str, uri: str = DEFAULT_URI) -> str:
    """Create the domain, attach this terminal to its console (Ctrl-] leaves
    and destroys it); returns how it ended, as libvirt saw it."""
    import os
    import select

    from pyunik import console

    libvirt = _libvirt()
    stdin_fd = sys.stdin.fileno()
    out = sys.stdout.buffer
    final = (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_CRASHED)
    with started(xml, uri) as domain, console.raw_terminal(stdin_fd):
        shown = 0
        stdin_open = True
        while True:
            with domain._changed:
                domain._changed.wait(0.05)
                data = bytes(domain.output[shown:])
                shown += len(data)
                ended = [e for e in domain.events if e.event in final]
            if data:
                out.write(data)
                out.flush()
            if ended:
                return ended[0].describe()
            if stdin_open and select.select([stdin_fd], [], [], 0)[0]:
                keys = os.read(stdin_fd, 1024)
                if not keys:
                    stdin_open = False
                elif console.EXIT_KEY in keys:
                    keys = keys[: keys.index(console.EXIT_KEY)]
                    if keys:
                        domain.send(keys)
                    return "left with Ctrl-], destroyed"
                else:
                    domain.send(keys)
