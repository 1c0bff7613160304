"""The guest on a tap inside a network namespace the test makes (tests/support/netns.py).

QEMU runs inside the namespace with its NIC on the tap; the guest gets the
static ip=/gw=/dns= words of the kernel command line. Everything the tests
send - pings, DNS answers, malformed frames, a SYN flood - stays inside that
namespace, which is removed after each test with whatever still runs in it.
Every flood and fuzz loop is bounded in count and in time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import netguest
import netns
import pytest
from conftest import EXAMPLES

SUPPORT = Path(__file__).resolve().parents[1] / "support"
DNS_NAME = "svc.pyunik.test"


@pytest.fixture
def ns() -> Iterator[netns.Namespace]:
    why = netns.unavailable()
    if why:
        if netguest.in_ci():
            pytest.fail(f"CI must be able to make network namespaces: {why}")
        pytest.skip(why)
    with netns.namespace() as made:
        yield made


def boot_in(ns: netns.Namespace, image, extra_cmdline: str = "") -> netguest.NetGuest:  # type: ignore[no-untyped-def]
    line = f"{ns.guest_cmdline} dns={ns.host_addr} {extra_cmdline}".strip()
    return netguest.boot(image, [f"tap,{ns.qemu_netdev()}"], cmdline=line, wrap=ns.wrap([]))


def http_from(ns: netns.Namespace, path: str = "/api/stats", timeout: float = 30) -> tuple[int, bytes]:
    """GET from inside the namespace (the guest is not reachable from anywhere else)."""
    code = (
        "import sys, urllib.request\n"
        f"r = urllib.request.urlopen('http://{ns.guest_addr}{path}', timeout={timeout})\n"
        "sys.stdout.buffer.write(b'%d ' % r.status + r.read())\n"
    )
    done = ns.run([sys.executable, "-c", code], timeout=timeout + 15)
    if done.returncode:
        return 0, done.stderr.encode()
    status, _, body = done.stdout.partition(" ")
    return int(status), body.encode()


def guest_mac(ns: netns.Namespace) -> str:
    ns.run(["ping", "-c", "1", "-W", "5", ns.guest_addr], timeout=20)
    neigh = ns.run(["ip", "neigh", "show", ns.guest_addr]).stdout
    assert "lladdr" in neigh, neigh
    return neigh.split("lladdr")[1].split()[0]


PING_FROM_GUEST = """
import socket, struct, time
def checksum(data):
    if len(data) % 2:
        data += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)
s.settimeout(3)
got = 0
for seq in range(5):
    body = b'pyunik ping %d' % seq
    head = struct.pack('!BBHHH', 8, 0, 0, 0x4242, seq)
    packet = struct.pack('!BBHHH', 8, 0, checksum(head + body), 0x4242, seq) + body
    t0 = time.ticks_us()
    s.sendto(packet, ('HOST', 0))
    while True:
        try:
            data = s.recv(256)
        except OSError:
            break
        # lwIP hands raw IPv4 sockets the IP header too.
        icmp = data[(data[0] & 15) * 4:] if data[0] >> 4 == 4 else data
        if icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (0x4242, seq) and icmp[8:] == body:
            got += 1
            print('reply', seq, time.ticks_diff(time.ticks_us(), t0), 'us')
            break
s.close()
print('REPLIES', got)
"""


def test_pings_both_ways_and_dns_through_a_server_in_the_namespace(ns: netns.Namespace, image_for) -> None:  # type: ignore[no-untyped-def]
    dns = subprocess.Popen(
        ns.wrap(
            [
                sys.executable,
                str(SUPPORT / "dnsserver.py"),
                "--bind",
                ns.host_addr,
                "--seconds",
                "120",
                f"{DNS_NAME}=192.168.117.77",
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    guest = boot_in(ns, image_for(netguest.MICROVM_NET))
    try:
        assert dns.stdout is not None and dns.stdout.readline().startswith("ready"), "the DNS server did not start"
        assert netguest.wait_for_address(guest) == ns.guest_addr
        # The namespace pings the guest (lwIP answers ICMP echo).
        done = ns.run(["ping", "-c", "5", "-i", "0.2", "-W", "5", ns.guest_addr], timeout=60)
        assert done.returncode == 0 and " 0% packet loss" in done.stdout, done.stdout + done.stderr
        # The guest pings the namespace: ICMP echo over a raw socket (MicroPython's SOCK_RAW on lwIP).
        out = guest.exec(PING_FROM_GUEST.replace("HOST", ns.host_addr), timeout=60)
        assert "REPLIES 5" in out, out
        # The guest resolves a name through the namespace's DNS server (dns= on its command line).
        out = guest.exec(
            "import socket\n"
            f"print('ADDR', socket.getaddrinfo('{DNS_NAME}', 80)[0][-1])\n"
            "try:\n"
            "    socket.getaddrinfo('missing.pyunik.test', 80)\n"
            "    print('missing: resolved')\n"
            "except OSError as e:\n"
            "    print('missing: OSError', e)\n",
            timeout=60,
        )
        assert "ADDR ('192.168.117.77', 80)" in out, out
        assert "missing: OSError" in out, out
    finally:
        guest.stop()
        dns.kill()
        dns.wait(timeout=10)


@pytest.fixture
def httpd_in_ns(ns: netns.Namespace, image_for) -> Iterator[tuple[netns.Namespace, netguest.NetGuest]]:  # type: ignore[no-untyped-def]
    guest = boot_in(ns, image_for(netguest.MICROVM_NET, EXAMPLES / "httpd"), "timeout=5")
    try:
        guest.read_until(b"httpd: listening", 30)
        yield ns, guest
    finally:
        guest.stop()


def send_frames(ns: netns.Namespace, *args: str, timeout: float = 120) -> dict[str, int]:
    done = ns.run([sys.executable, str(SUPPORT / "badframes.py"), *args], timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_malformed_frames_leave_the_guest_serving(httpd_in_ns) -> None:  # type: ignore[no-untyped-def]
    ns, guest = httpd_in_ns
    status, body = http_from(ns)
    assert status == 200, body
    before = json.loads(body)
    mac = guest_mac(ns)
    ns.run(["ip", "link", "set", ns.tap, "mtu", "9000"], check=True)  # let the oversized frames out
    sent = send_frames(ns, "malformed", ns.tap, ns.guest_addr, mac, "--per-kind", "20")
    status, body = http_from(ns)
    assert status == 200, (sent, body)
    after = json.loads(body)
    assert guest.proc.poll() is None
    assert after["mem_alloc"] < before["mem_alloc"] + 32 * 1024, (before, after)
    assert ns.run(["ping", "-c", "2", "-W", "5", ns.guest_addr], timeout=30).returncode == 0
    print(f"\nsent {sum(sent.values())} malformed frames: {sent}")


def test_syn_flood_is_bounded(httpd_in_ns) -> None:  # type: ignore[no-untyped-def]
    ns, guest = httpd_in_ns
    status, body = http_from(ns)
    assert status == 200, body
    before = json.loads(body)
    mac = guest_mac(ns)
    sent = send_frames(ns, "synflood", ns.tap, ns.guest_addr, mac, "--count", "3000")
    # Half-open connections to addresses nobody has time out; the guest must serve again
    # within a bounded time and keep no more heap than before.
    t0 = time.monotonic()
    status = 0
    while time.monotonic() - t0 < 90 and status != 200:
        status, body = http_from(ns, timeout=10)
    assert status == 200, body
    recovered = time.monotonic() - t0
    after = json.loads(body)
    assert guest.proc.poll() is None
    assert after["mem_alloc"] < before["mem_alloc"] + 32 * 1024, (before, after)
    print(f"\n{sent['syn']} SYNs: served again after {recovered:.1f} s; heap in use {after['mem_alloc']} bytes")
