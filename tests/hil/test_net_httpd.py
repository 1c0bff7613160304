"""examples/httpd on the booted image, reached from the host through QEMU's user network.

One guest serves the whole module: QEMU forwards a free port on 127.0.0.1 to
the guest's port 80 (hostfwd), and the host-side checks in
tests/support/netclients.py (the same ones the unix-port tests run) talk to
it. The app's own /api/stats reports gc.mem_free()/mem_alloc() after a
collection, which is how the leak and flood checks see the guest's heap.
"""

from __future__ import annotations

from collections.abc import Iterator

import netclients as nc
import netguest
import pytest
from conftest import EXAMPLES

#: Seconds a client has to send a request head (the app's timeout= option); the
#: silent-client and slowloris tests wait this long for the cut.
SERVER_TIMEOUT = 10.0


#: The head timeout for the 30-client test, which opens its connections one after
#: another before any sends: on a loaded 2-core machine that took more than 10 s, and
#: the server then rightly dropped the first ones (its stats counted the timeouts).
PATIENT_SERVER_TIMEOUT = 120.0


def serve_httpd(image_for, timeout: float) -> Iterator[nc.Endpoint]:  # type: ignore[no-untyped-def]
    image = image_for(netguest.MICROVM_NET, EXAMPLES / "httpd")
    port = netguest.free_port()
    guest = netguest.boot(image, [netguest.hostfwd((port, 80))], cmdline=f"timeout={timeout}")
    try:
        guest.read_until(b"httpd: listening", 30)
        yield nc.Endpoint("127.0.0.1", port)
        assert guest.proc.poll() is None, f"the guest stopped: {guest.tail()}"
    finally:
        guest.stop()


@pytest.fixture(scope="module")
def httpd(image_for) -> Iterator[nc.Endpoint]:  # type: ignore[no-untyped-def]
    yield from serve_httpd(image_for, SERVER_TIMEOUT)


@pytest.fixture
def patient_httpd(image_for) -> Iterator[nc.Endpoint]:  # type: ignore[no-untyped-def]
    yield from serve_httpd(image_for, PATIENT_SERVER_TIMEOUT)


def test_page_json_404_and_head(httpd: nc.Endpoint) -> None:
    nc.check_page_and_json(httpd)
    assert nc.stats(httpd)["platform"] == "pyunik"


def test_keep_alive_and_pipelining(httpd: nc.Endpoint) -> None:
    nc.check_keep_alive_and_pipelining(httpd)


def test_thirty_concurrent_clients(patient_httpd: nc.Endpoint) -> None:
    nc.check_concurrent_clients(patient_httpd, clients=30, requests=4)


def test_malformed_requests_get_400_and_the_server_keeps_serving(httpd: nc.Endpoint) -> None:
    nc.check_malformed_requests(httpd)


def test_a_client_that_never_sends_is_dropped(httpd: nc.Endpoint) -> None:
    kept = nc.check_silent_client_dropped(httpd, SERVER_TIMEOUT)
    print(f"\nsilent client kept {kept:.2f} s (server timeout {SERVER_TIMEOUT} s)")


def test_slowloris_is_cut_off(httpd: nc.Endpoint) -> None:
    cut = nc.check_slowloris(httpd, SERVER_TIMEOUT)
    print(f"\nslowloris cut after {cut:.2f} s (server timeout {SERVER_TIMEOUT} s)")


def test_ten_megabytes_of_headers(httpd: nc.Endpoint) -> None:
    seen = nc.check_huge_headers(httpd)
    print(f"\n10 MB of headers: cut after {seen['sent_before_cut']} bytes sent ({seen['closed']})")


def test_a_thousand_connections_do_not_leak(httpd: nc.Endpoint) -> None:
    seen = nc.check_connection_churn(httpd, connections=1000)
    print(f"\n1000 connections: heap in use grew by {seen['grew']} bytes")


def test_q35_modern_virtio_pci_serves_too(image_for) -> None:  # type: ignore[no-untyped-def]
    """The same app on qemu-q35-net (virtio-net-pci, modern only, MSI-X): a smoke test."""
    image = image_for(netguest.Q35_NET, EXAMPLES / "httpd")
    port = netguest.free_port()
    guest = netguest.boot(image, [netguest.hostfwd((port, 80))])
    try:
        guest.read_until(b"httpd: listening", 60)
        ep = nc.Endpoint("127.0.0.1", port)
        nc.check_page_and_json(ep)
        nc.check_keep_alive_and_pipelining(ep, requests=3)
    finally:
        guest.stop()
