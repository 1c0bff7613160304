"""A network namespace with a tap device, made for one test and always removed.

Test traffic that is not on 127.0.0.1 stays inside a namespace the test
created: QEMU is started inside it (``ip netns exec``) with its NIC on the
tap, the namespace's side of the tap has ``host_addr`` and the guest is
given ``guest_addr`` (a static address on its kernel command line). Nothing
is routed out of the namespace: it has no other interface than lo and the tap.

    with netns.namespace() as ns:
        proc = subprocess.Popen(ns.wrap(qemu_argv))        # QEMU inside it
        ns.run(["ping", "-c", "3", ns.guest_addr])         # from inside it

Needs root (CAP_NET_ADMIN) and iproute2; :func:`unavailable` says why not.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

IP = "ip"
#: The namespace's link: a /24 that exists only inside namespaces made here.
SUBNET = "192.168.117"
_counter = itertools.count()


class NetnsError(Exception):
    """A namespace could not be made; the message has the failing command and its output."""


@dataclass(frozen=True)
class Namespace:
    name: str
    tap: str
    host_addr: str
    guest_addr: str
    prefix: int = 24

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return [IP, "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], timeout: float = 30, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace, bounded by ``timeout`` seconds."""
        return subprocess.run(
            self.wrap(argv), capture_output=True, text=True, timeout=timeout, check=check, stdin=subprocess.DEVNULL
        )

    @property
    def guest_cmdline(self) -> str:
        """The kernel command line words that give the guest its static address here."""
        return f"ip={self.guest_addr}/{self.prefix} gw={self.host_addr}"

    def qemu_netdev(self) -> str:
        """The -netdev spec (after 'tap,') for a NIC on this namespace's tap."""
        return f"ifname={self.tap},script=no,downscript=no"


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if shutil.which(IP) is None:
        return "iproute2's `ip` is not installed (bootstrap.sh installs it)"
    if os.geteuid() != 0:
        return "network namespaces and tap devices need root"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing: no tap devices on this machine"
    return None


def _ip(*args: str) -> None:
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if done.returncode:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")


def _kill_inside(name: str) -> None:
    """Kill what still runs in the namespace (only what the test started there)."""
    done = subprocess.run([IP, "netns", "pids", name], capture_output=True, text=True, timeout=30)
    for pid in done.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


@contextlib.contextmanager
def bare_namespace() -> Iterator[str]:
    """A fresh namespace named after this process and a counter, with only lo
    (up); yields its name. Removed on exit, with anything still running inside
    it (e.g. the dnsmasq a libvirt network leaves behind)."""
    name = f"pyunik-test-{os.getpid()}-{next(_counter)}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        _kill_inside(name)
        subprocess.run([IP, "netns", "del", name], capture_output=True, timeout=30)


@contextlib.contextmanager
def namespace(octet: int = 2) -> Iterator[Namespace]:
    """A :func:`bare_namespace` with a tap at ``SUBNET.1``; the guest is to be
    ``SUBNET.<octet>``."""
    with bare_namespace() as name:
        tap = f"pyt{os.getpid() % 100000}t{name.rsplit('-', 1)[1]}"[:15]
        ns = Namespace(name, tap, f"{SUBNET}.1", f"{SUBNET}.{octet}")
        _ip("-n", name, "tuntap", "add", "dev", tap, "mode", "tap")
        _ip("-n", name, "addr", "add", f"{ns.host_addr}/{ns.prefix}", "dev", tap)
        _ip("-n", name, "link", "set", tap, "up")
        yield ns
