"""Boot a networked image for a test: QEMU with a NIC, its console on a pty.

pyunik.vm builds the command line (``net=`` takes -netdev specs: "user,..."
or "tap,..."; the NIC model follows the board). With a namespace from
tests/support/netns.py QEMU starts inside it. The console is read with
pyserial; :meth:`NetGuest.exec` runs code through the raw REPL (the protocol
mpremote speaks) with a deadline, so a guest that hangs fails the test in
seconds instead of blocking the suite.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import serial

from pyunik import build, vm

#: The networked boards (issue 13): virtio-net on virtio-mmio, and on modern virtio-pci.
MICROVM_NET = "qemu-microvm-net"
Q35_NET = "qemu-q35-net"
#: QEMU's user network: the guest's address by DHCP, and the host's loopback seen from the guest.
SLIRP_GUEST = "10.0.2.15"
SLIRP_HOST = "10.0.2.2"


class GuestError(AssertionError):
    """The guest did not answer as expected; the message has the console's tail."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hostfwd(*rules: tuple[int, int], udp: Sequence[tuple[int, int]] = ()) -> str:
    """A user-network netdev spec forwarding 127.0.0.1:HOST to the guest's GUEST port."""
    parts = [f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for host, guest in rules]
    parts += [f"hostfwd=udp:127.0.0.1:{host}-:{guest}" for host, guest in udp]
    return "user" + "".join("," + p for p in parts)


@dataclass
class NetGuest:
    running: vm.Running
    argv: tuple[str, ...]
    port: serial.Serial
    seen: bytes = field(default=b"")

    @property
    def proc(self):  # type: ignore[no-untyped-def]
        return self.running.proc

    def tail(self, n: int = 1500) -> str:
        return self.seen[-n:].decode(errors="replace")

    def read_until(self, marker: bytes, timeout: float) -> bytes:
        """Console bytes up to and including ``marker`` (from what was not consumed yet)."""
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            if time.monotonic() > deadline:
                raise GuestError(f"no {marker!r} within {timeout:.0f} s; console: {self.tail()!r}")
            if self.proc.poll() is not None:
                self.seen += self.port.read(65536)
                if marker in self.seen:
                    break
                raise GuestError(f"QEMU exited ({self.proc.returncode}) before {marker!r}; console: {self.tail()!r}")
            self.seen += self.port.read(max(1, self.port.in_waiting))
        at = self.seen.index(marker) + len(marker)
        got, self.seen = self.seen[:at], self.seen[at:]
        return got

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def exec(self, code: str, timeout: float = 60) -> str:
        """Run ``code`` in the raw REPL; its stdout. A traceback raises GuestError."""
        self.write(b"\r\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", 20)
        self.write(code.encode() + b"\x04")
        self.read_until(b"OK", 20)
        out = self.read_until(b"\x04", timeout)[:-1].decode(errors="replace")
        err = self.read_until(b"\x04>", 20)[:-2].decode(errors="replace")
        self.write(b"\x02")  # back to the friendly REPL
        if err.strip():
            raise GuestError(f"guest raised:\n{err}\nstdout:\n{out}")
        return out

    def wait_exit(self, timeout: float) -> int:
        """The guest's exit status (the app ended); console kept in ``seen``."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise GuestError(f"the guest did not exit within {timeout:.0f} s; console: {self.tail()!r}")
            self.seen += self.port.read(max(1, self.port.in_waiting))
        self.seen += self.port.read(65536)
        return vm.guest_status(self.proc.returncode)

    def stop(self) -> None:
        self.port.close()
        self.running.close()


def boot(
    image: build.Image,
    net: Sequence[str],
    cmdline: str = "",
    memory: str | None = None,
    extra: Sequence[str] = (),
    wrap: Sequence[str] = (),
) -> NetGuest:
    """Boot ``image`` with a NIC on each of ``net`` (netdev specs), under ``wrap`` (e.g. ip netns exec)."""
    line = " ".join(w for w in (image.board.vm.cmdline, cmdline) if w)
    command = vm.qemu_command(
        image.board,
        image.elf,
        serial="stdio",
        memory=memory,
        cmdline=line or None,
        plugin_args=image.qemu_args,
        extra=["-no-reboot", *extra],
        net=list(net),
    )
    argv = (*wrap, *command.argv)
    running = vm.start_with_pty(vm.QemuCommand(argv, command.accel))
    port = running.console(timeout=0.05)
    return NetGuest(running, argv, port)


#: Guest code: wait (bounded) for the NIC's IPv4 address, then print it.
WAIT_FOR_ADDRESS = """
import network, time
nic = network.LAN()
nic.active(True)
t0 = time.ticks_ms()
while nic.ipconfig('addr4')[0] == '0.0.0.0':
    if time.ticks_diff(time.ticks_ms(), t0) > 15000:
        raise OSError('no address after 15 s')
    time.sleep_ms(20)
print('ADDR', nic.ipconfig('addr4')[0])
"""


def wait_for_address(guest: NetGuest) -> str:
    out = guest.exec(WAIT_FOR_ADDRESS, timeout=30)
    return out.split("ADDR", 1)[1].split()[0]


def in_ci() -> bool:
    return os.environ.get("CI") == "true"
