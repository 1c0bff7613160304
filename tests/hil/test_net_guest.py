"""The guest as a network client, and what it says when there is no network.

The image is the networked board with no app (the REPL); code runs through
the raw REPL. QEMU's user network gives the guest 10.0.2.15 by DHCP and
shows the host's loopback as 10.0.2.2, so a server this test binds on
127.0.0.1 is what the guest reaches: no traffic leaves the machine.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import netguest
import pytest
from conftest import EXAMPLES

from pyunik import vm


class LineServer:
    """A TCP server on 127.0.0.1 that answers each line upper-cased; stops with the test."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.peers: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            self.peers.append(peer[0])
            with conn:
                conn.settimeout(10)
                try:
                    line = conn.makefile("rb").readline(1000)
                    conn.sendall(line.upper())
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def line_server() -> Iterator[LineServer]:
    server = LineServer()
    yield server
    server.close()


@pytest.fixture
def repl_guest(image_for) -> Iterator[netguest.NetGuest]:  # type: ignore[no-untyped-def]
    guest = netguest.boot(image_for(netguest.MICROVM_NET), ["user"])
    yield guest
    guest.stop()


def test_dhcp_address_and_a_socket_to_a_host_server(repl_guest: netguest.NetGuest, line_server: LineServer) -> None:
    assert netguest.wait_for_address(repl_guest) == netguest.SLIRP_GUEST
    out = repl_guest.exec(
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(10)\n"
        f"s.connect(('{netguest.SLIRP_HOST}', {line_server.port}))\n"
        "s.send(b'hello from the guest\\n')\n"
        "print('GOT', s.recv(100))\n"
        "s.close()\n",
        timeout=30,
    )
    assert "GOT b'HELLO FROM THE GUEST\\n'" in out, out
    assert line_server.peers == ["127.0.0.1"]  # slirp: the guest's connection arrives from loopback


def test_asyncio_open_connection_to_a_host_server(repl_guest: netguest.NetGuest, line_server: LineServer) -> None:
    netguest.wait_for_address(repl_guest)
    out = repl_guest.exec(
        "import asyncio\n"
        "async def main():\n"
        f"    r, w = await asyncio.open_connection('{netguest.SLIRP_HOST}', {line_server.port})\n"
        "    w.write(b'asyncio streams\\n')\n"
        "    await w.drain()\n"
        "    print('GOT', await asyncio.wait_for(r.readline(), 10))\n"
        "    w.close()\n"
        "    await w.wait_closed()\n"
        "asyncio.run(main())\n",
        timeout=30,
    )
    assert "GOT b'ASYNCIO STREAMS\\n'" in out, out


NO_NETWORK_CHECKS = """
import network, socket, time
try:
    network.LAN()
    print('LAN: no error')
except OSError as e:
    print('LAN OSError', e)
for what, call in (('getaddrinfo', lambda: socket.getaddrinfo('pyunik.invalid', 80)),
                   ('connect', lambda: socket.socket().connect(('10.0.2.2', 80)))):
    t0 = time.ticks_ms()
    try:
        call()
        print(what, 'no error')
    except OSError as e:
        print(what, 'OSError', e, time.ticks_diff(time.ticks_ms(), t0), 'ms')
"""


def test_no_nic_gives_a_clear_oserror_not_a_hang(image_for) -> None:  # type: ignore[no-untyped-def]
    guest = netguest.boot(image_for(netguest.MICROVM_NET), [])  # the board's plugins, but no NIC in the VM
    try:
        out = guest.exec(NO_NETWORK_CHECKS, timeout=60)
    finally:
        guest.stop()
    assert "LAN OSError" in out and "no network interface" in out, out
    assert "getaddrinfo OSError" in out, out
    assert "connect OSError" in out, out
    print("\n" + out)


def test_httpd_without_a_nic_exits_with_the_oserror(image_for) -> None:  # type: ignore[no-untyped-def]
    guest = netguest.boot(image_for(netguest.MICROVM_NET, EXAMPLES / "httpd"), [])
    try:
        status = guest.wait_exit(60)
    finally:
        guest.stop()
    assert status == 1, guest.tail()
    assert "OSError" in guest.tail() and "no network interface" in guest.tail(), guest.tail()


LINK_STATE = """
import network, time
nic = network.LAN()
t0 = time.ticks_ms()
while (nic.status() != 0) != %r:
    if time.ticks_diff(time.ticks_ms(), t0) > 10000:
        raise OSError('link state did not change in 10 s')
    time.sleep_ms(20)
print('STATUS', nic.status(), 'CONNECTED', nic.isconnected())
"""


def test_link_down_gives_oserror_and_link_up_recovers(image_for, line_server: LineServer) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        monitor = Path(tmp) / "qmp.sock"
        guest = netguest.boot(
            image_for(netguest.MICROVM_NET), ["user"], extra=["-qmp", f"unix:{monitor},server=on,wait=off"]
        )
        try:
            netguest.wait_for_address(guest)
            assert "return" in vm.qmp(monitor, "set_link", name="net0", up=False)
            out = guest.exec(LINK_STATE % False, timeout=30)
            assert "STATUS 0 CONNECTED False" in out, out
            t0 = time.monotonic()
            out = guest.exec(
                "import socket\n"
                "s = socket.socket()\n"
                "s.settimeout(3)\n"
                "try:\n"
                f"    s.connect(('{netguest.SLIRP_HOST}', {line_server.port}))\n"
                "    print('connected')\n"
                "except OSError as e:\n"
                "    print('OSError', e)\n"
                "s.close()\n",
                timeout=30,
            )
            assert "OSError" in out, out
            assert time.monotonic() - t0 < 20
            assert "return" in vm.qmp(monitor, "set_link", name="net0", up=True)
            guest.exec(LINK_STATE % True, timeout=30)
            out = guest.exec(
                "import socket\n"
                "s = socket.socket()\n"
                "s.settimeout(10)\n"
                f"s.connect(('{netguest.SLIRP_HOST}', {line_server.port}))\n"
                "s.send(b'back\\n')\n"
                "print('GOT', s.recv(100))\n"
                "s.close()\n",
                timeout=30,
            )
            assert "GOT b'BACK\\n'" in out, out
        finally:
            guest.stop()


def _first_dhcp_xid_and_syn_port(pcap: Path, server_port: int) -> tuple[int, int]:
    """The xid of the guest's first DHCP request and the source port of its first SYN to ``server_port``."""
    from scapy.layers.dhcp import BOOTP
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    frames = rdpcap(str(pcap))
    xids = [int(f[BOOTP].xid) for f in frames if BOOTP in f and f[BOOTP].op == 1]
    syns = [int(f[TCP].sport) for f in frames if TCP in f and f[TCP].dport == server_port and f[TCP].flags == "S"]
    assert xids and syns, f"{pcap.name}: {len(frames)} frames, DHCP requests {xids}, SYNs {syns}"
    return xids[0], syns[0]


def test_lwip_random_numbers_differ_between_boots(image_for, line_server: LineServer) -> None:  # type: ignore[no-untyped-def]
    """lwIP's LWIP_RAND (pvboot_random_u64) seeds the DHCP transaction id and
    the first ephemeral TCP port: two boots of the same image must not repeat
    them. QEMU's filter-dump records the frames the guest sends (slirp
    rewrites ports, so a host-side listener cannot see them). Odds of a false
    failure: the same 32-bit xid twice (2^-32) or the same of lwIP's 16384
    ephemeral ports twice (2^-14)."""
    image = image_for(netguest.MICROVM_NET)
    seen: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(2):
            pcap = Path(tmp) / f"boot{n}.pcap"
            guest = netguest.boot(image, ["user"], extra=["-object", f"filter-dump,id=dump0,netdev=net0,file={pcap}"])
            try:
                netguest.wait_for_address(guest)
                out = guest.exec(
                    "import socket\n"
                    "s = socket.socket()\n"
                    "s.settimeout(10)\n"
                    f"s.connect(('{netguest.SLIRP_HOST}', {line_server.port}))\n"
                    "s.send(b'rand\\n')\n"
                    "print('GOT', s.recv(100))\n"
                    "s.close()\n",
                    timeout=30,
                )
                assert "GOT b'RAND\\n'" in out, out
            finally:
                guest.stop()
            seen.append(_first_dhcp_xid_and_syn_port(pcap, line_server.port))
    (xid0, port0), (xid1, port1) = seen
    print(f"boot 0: DHCP xid {xid0:#010x}, first TCP port {port0}; boot 1: xid {xid1:#010x}, port {port1}")
    assert xid0 != xid1, f"both boots used DHCP xid {xid0:#x}"
    assert port0 != port1, f"both boots' first TCP port was {port0}"
