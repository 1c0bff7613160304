"""The image as a libvirt domain, against a real libvirtd (QEMU driver, TCG).

The session starts Debian's libvirtd when none answers (pyunik/libvirtd.py)
and stops it afterwards. Each test creates a transient domain from the XML
`invoke libvirt-xml` writes, talks to the console through libvirt's console
stream and checks how the domain ended, as libvirt reports it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLES

from pyunik import board as boards
from pyunik import libvirt_domain as ld
from pyunik import libvirtd

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def libvirt_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A libvirtd answering at qemu:///system for the session."""
    if os.geteuid() != 0 and not libvirtd.answers():
        reason = "no libvirtd answers and only root can start one"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("libvirtd") / "libvirtd.log"
    with libvirtd.running(log=log) as uri:
        yield uri


def _name(tag: str) -> str:
    return f"pyunik-test-{tag}-{os.getpid()}"


def _xml(image, tag: str, cmdline: str = "", **kwargs) -> str:  # type: ignore[no-untyped-def]
    return ld.render(image.board, image.elf, _name(tag), cmdline=cmdline, plugin_args=image.qemu_args, **kwargs)


def test_the_xml_validates_against_libvirts_schema(image_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    for board in ("qemu-microvm", "qemu-q35"):
        image = image_for(board)
        xml = tmp_path / f"{board}.xml"
        xml.write_text(_xml(image, board, nics=[ld.Nic.parse("user"), ld.Nic.parse("tap:tap7")], disks=[disk]))
        result = subprocess.run(["virt-xml-validate", str(xml), "domain"], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_repl_over_the_libvirt_console(image_for, libvirt_uri: str) -> None:  # type: ignore[no-untyped-def]
    image = image_for(boards.DEFAULT_BOARD)
    with ld.started(_xml(image, "repl"), libvirt_uri) as domain:
        at = domain.expect(b">>> ")
        assert domain.state() == ("running", _libvirt().VIR_DOMAIN_RUNNING_UNPAUSED)
        domain.send(b"import board; print(6 * 7, board.name)\r")
        at = domain.expect(b"42 qemu-microvm\r\n", start=at)
        domain.expect(b">>> ", start=at)
        # Status 0: the guest writes isa-debug-exit, QEMU exits on its own.
        domain.send(b"import machine; machine.deepsleep()\r")
        stopped = domain.wait_event(_libvirt().VIR_DOMAIN_EVENT_STOPPED)
        assert stopped.describe() == "stopped, failed"
        assert domain.state() is None  # a transient domain is gone once shut off


def test_app_exiting_zero_shuts_the_domain_off(image_for, libvirt_uri: str) -> None:  # type: ignore[no-untyped-def]
    image = image_for(boards.DEFAULT_BOARD, EXAMPLES / "json-batch")
    with ld.started(_xml(image, "exit0", cmdline="limit=500 -- [1,200,3]"), libvirt_uri) as domain:
        stopped = domain.wait_event(_libvirt().VIR_DOMAIN_EVENT_STOPPED)
        assert stopped.describe() == "stopped, failed"
        assert not [e for e in domain.events if e.event == _libvirt().VIR_DOMAIN_EVENT_CRASHED]
        assert b'"over_limit": []' in domain.output


def test_app_exiting_three_is_a_crash_kept_for_the_operator(image_for, libvirt_uri: str) -> None:  # type: ignore[no-untyped-def]
    image = image_for(boards.DEFAULT_BOARD, EXAMPLES / "json-batch")
    with ld.started(_xml(image, "exit3", cmdline="-- [1,200,3]"), libvirt_uri) as domain:
        crashed = domain.wait_event(_libvirt().VIR_DOMAIN_EVENT_CRASHED)
        assert crashed.describe() == "crashed, panicked"
        # on_crash = preserve: the domain stays, crashed, for virsh dump.
        assert domain.state() == ("crashed", _libvirt().VIR_DOMAIN_CRASHED_PANICKED)
        assert b'"over_limit": [200]' in domain.output


def test_on_crash_destroy_shuts_it_off_as_crashed(image_for, libvirt_uri: str) -> None:  # type: ignore[no-untyped-def]
    image = image_for(boards.DEFAULT_BOARD, EXAMPLES / "json-batch")
    with ld.started(_xml(image, "crash-destroy", cmdline="-- [1,oops]", on_crash="destroy"), libvirt_uri) as domain:
        stopped = domain.wait_event(_libvirt().VIR_DOMAIN_EVENT_STOPPED)
        assert stopped.describe() == "stopped, crashed"
        assert b"not JSON" in domain.output


def test_virtio_nic_under_libvirt_is_the_guests_network_lan(image_for, libvirt_uri: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """QEMU under libvirt takes the virtio-mmio NIC (and a disk beside it), and
    the guest's virtio-net driver finds it: network.LAN() has the MAC that
    libvirt gave the interface."""
    import re

    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    image = image_for("qemu-microvm-net")
    xml = _xml(image, "devices", nics=[ld.Nic.parse("user")], disks=[disk])
    with ld.started(xml, libvirt_uri) as domain:
        mac = re.search(r"<mac address='([0-9a-f:]+)'", domain.dom.XMLDesc())
        assert mac, domain.dom.XMLDesc()
        at = domain.expect(b">>> ")
        domain.send(b"import network, binascii; print(binascii.hexlify(network.LAN().config('mac'), ':'))\r")
        domain.expect(f"b'{mac.group(1)}'".encode(), start=at)


#: An isolated libvirt network (no <forward>: nothing leaves it) with DHCP from
#: libvirt's dnsmasq, in addresses that exist only inside the test's namespace.
ISOLATED_NETWORK = """<network>
  <name>pyunik-isolated</name>
  <bridge name='pyvbr0' stp='off'/>
  <ip address='192.168.118.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.118.10' end='192.168.118.20'/></dhcp>
  </ip>
</network>"""


@pytest.fixture
def libvirt_in_netns(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A private libvirtd inside a namespace this test makes: (namespace, URI)."""
    import netns

    why = netns.unavailable()
    if why:
        pytest.skip(why)
    with netns.bare_namespace() as name, libvirtd.in_namespace(name, tmp_path / "libvirtd") as uri:
        yield name, uri


def test_a_nic_on_a_libvirt_network_serves_http(image_for, libvirt_in_netns: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    """The guest's NIC on a libvirt network (bridge + dnsmasq, made by libvirt inside
    the test's namespace): it takes a DHCP lease from libvirt, answers ping from the
    namespace and serves examples/httpd there."""
    import re
    import sys

    name, uri = libvirt_in_netns
    conn = _libvirt().open(uri)
    network = conn.networkCreateXML(ISOLATED_NETWORK)
    try:
        image = image_for("qemu-microvm-net", EXAMPLES / "httpd")
        xml = _xml(image, "libvirt-net", nics=[ld.Nic.parse("network:pyunik-isolated")])
        with ld.started(xml, uri) as domain:
            at = domain.expect(b"httpd: listening", timeout=90)
            address = re.search(rb"httpd: address (192\.168\.118\.\d+)", domain.output[:at])
            assert address, domain.output.decode(errors="replace")
            guest = address.group(1).decode()
            leases = _leases_once_recorded(network, guest)
            assert guest in leases, leases
            ping = subprocess.run(
                ["ip", "netns", "exec", name, "ping", "-c", "3", "-W", "5", guest],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert ping.returncode == 0 and " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr
            fetch = (
                "import json, urllib.request; "
                f"print(json.load(urllib.request.urlopen('http://{guest}/api/stats', timeout=20))['platform'])"
            )
            http = subprocess.run(
                ["ip", "netns", "exec", name, sys.executable, "-c", fetch], capture_output=True, text=True, timeout=60
            )
            assert http.stdout.strip() == "pyunik", http.stdout + http.stderr
    finally:
        network.destroy()
        conn.close()


def _leases_once_recorded(network, guest: str, timeout: float = 20.0) -> list[str]:  # type: ignore[no-untyped-def]
    """The network's DHCP leases, waiting (bounded) for the guest's to appear:
    dnsmasq hands the lease out first and runs libvirt's lease helper, which
    writes the status file DHCPLeases() reads, afterwards. The guest can print
    its address before that helper has run (CI saw an empty list)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        leases = [lease["ipaddr"] for lease in network.DHCPLeases()]
        if guest in leases or time.monotonic() > deadline:
            return leases
        time.sleep(0.5)


def _libvirt():  # type: ignore[no-untyped-def]
    import libvirt

    return libvirt
