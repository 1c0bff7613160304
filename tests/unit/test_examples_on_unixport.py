"""examples/httpd and examples/echo on the MicroPython unix port, with host clients on 127.0.0.1.

The unix port is built from the same pinned tree as the image (the binary
`invoke conformance` uses); its socket and asyncio are the image's API. The
same client checks (tests/support/netclients.py) run against the booted
image in tests/hil/test_net_apps.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import netclients as nc
import pytest
import unixapp

from rigs import conformance

SERVER_TIMEOUT = 1.5  # seconds a client has to send a request head (the app's timeout= option)


@pytest.fixture(scope="module")
def micropython() -> Path:
    if shutil.which("make") is None or not (unixapp.ROOT / "deps" / "micropython").is_dir():
        pytest.skip("no make or no deps/micropython: run ./bootstrap.sh")
    return conformance.build_unix_port(conformance.micropython_tree(), jobs=2)


@pytest.fixture(scope="module")
def httpd(micropython: Path) -> Iterator[nc.Endpoint]:
    port = unixapp.free_port()
    with unixapp.running(
        micropython, unixapp.EXAMPLES / "httpd", f"port={port} timeout={SERVER_TIMEOUT}", b"listening"
    ):
        yield nc.Endpoint("127.0.0.1", port)


def test_httpd_page_json_and_404(httpd: nc.Endpoint) -> None:
    nc.check_page_and_json(httpd)


def test_httpd_keep_alive_and_pipelining(httpd: nc.Endpoint) -> None:
    nc.check_keep_alive_and_pipelining(httpd)


def test_httpd_thirty_concurrent_clients(httpd: nc.Endpoint) -> None:
    nc.check_concurrent_clients(httpd, clients=30, requests=4)


def test_httpd_malformed_requests_get_400_and_server_keeps_serving(httpd: nc.Endpoint) -> None:
    nc.check_malformed_requests(httpd)


def test_httpd_silent_client_is_dropped(httpd: nc.Endpoint) -> None:
    kept = nc.check_silent_client_dropped(httpd, SERVER_TIMEOUT)
    assert kept < SERVER_TIMEOUT + 5


def test_httpd_slowloris_is_cut_off(httpd: nc.Endpoint) -> None:
    cut = nc.check_slowloris(httpd, SERVER_TIMEOUT)
    assert cut < SERVER_TIMEOUT + 5


def test_httpd_ten_megabytes_of_headers(httpd: nc.Endpoint) -> None:
    nc.check_huge_headers(httpd)


def test_httpd_connection_churn_does_not_leak(httpd: nc.Endpoint) -> None:
    nc.check_connection_churn(httpd, connections=300)


def test_echo_tcp_udp_discard_source(micropython: Path) -> None:
    echo, discard, source = unixapp.free_port(), unixapp.free_port(), unixapp.free_port()
    line = f"port={echo} discard={discard} source={source}"
    with unixapp.running(micropython, unixapp.EXAMPLES / "echo", line, b"echo: tcp+udp"):
        nc.check_tcp_echo(nc.Endpoint("127.0.0.1", echo))
        nc.check_udp_echo(nc.Endpoint("127.0.0.1", echo))
        nc.check_discard_and_source(nc.Endpoint("127.0.0.1", discard), nc.Endpoint("127.0.0.1", source))
        # The network benchmark's own client (bench/netclient.py) against the same servers.
        for args in (("echo-rtt", echo, 50, 64), ("bulk-up", discard, 1 << 20), ("bulk-down", source, 1 << 20)):
            done = subprocess.run(
                [sys.executable, "-m", "bench.netclient", args[0], "127.0.0.1", *map(str, args[1:])],
                cwd=unixapp.ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            result = json.loads(done.stdout)
            assert len(result["rtt_us"]) == 50 if args[0] == "echo-rtt" else result["bytes"] == 1 << 20


def test_bench_xen_httpload_counts_keep_alive_responses(micropython: Path, httpd: nc.Endpoint) -> None:
    """bench/xen_httpload.py, the HTTP load the Xen bench runs in dom0 under
    the unix port, against the same app: 4 keep-alive connections, at least
    the 200 responses asked for, none counted as an error."""
    client = unixapp.ROOT / "bench" / "xen_httpload.py"
    done = subprocess.run(
        [str(micropython), str(client), httpd.host, str(httpd.port), "4", "200", "30"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    words = done.stdout.split()
    assert done.returncode == 0 and words[:1] == ["HTTPLOAD"], done
    ok, errors, micros = (int(w) for w in words[1:4])
    assert ok >= 200 and errors == 0 and micros > 0, done.stdout


def test_bench_xen_first_http_gets_the_page_and_gives_up_in_time(micropython: Path, httpd: nc.Endpoint) -> None:
    """bench/xen_first_http.py, the dom0 poll behind the Xen bench's create ->
    first HTTP: against the app it reports the first attempt's 200; against a
    port nobody listens on it keeps trying (a fresh connect each time) and
    says NEVER once its limit has passed, not before and not much after."""
    client = str(unixapp.ROOT / "bench" / "xen_first_http.py")
    done = subprocess.run(
        [str(micropython), client, httpd.host, str(httpd.port), "20"], capture_output=True, text=True, timeout=60
    )
    words = done.stdout.split()
    assert done.returncode == 0 and words[:2] == ["FIRST", "1"] and "200" in words[3:], done
    closed = unixapp.free_port()
    started = time.monotonic()
    done = subprocess.run(
        [str(micropython), client, "127.0.0.1", str(closed), "1"], capture_output=True, text=True, timeout=60
    )
    took = time.monotonic() - started
    words = done.stdout.split()
    assert done.returncode == 0 and words[:1] == ["NEVER"] and int(words[1]) > 5, done
    assert "ECONNREFUSED" in done.stdout and 1 <= took < 10, (took, done.stdout)
