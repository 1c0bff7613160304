"""Host-side clients that check examples/httpd and examples/echo over TCP/UDP.

The same checks run against the app on the MicroPython unix port
(tests/unit/test_examples_on_unixport.py, 127.0.0.1) and against the booted
image (tests/hil/test_net_*.py, QEMU's user network forwarding a port on
127.0.0.1, or an address inside a network namespace the test made). Every
socket has a timeout and every loop a bound, so a wedged server fails a
check in seconds instead of hanging the suite.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

TIMEOUT = 20.0


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


def connect(ep: Endpoint, timeout: float = TIMEOUT) -> socket.socket:
    return socket.create_connection((ep.host, ep.port), timeout=timeout)


def get(ep: Endpoint, path: str = "/", timeout: float = TIMEOUT) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection: (status, headers, body)."""
    conn = http.client.HTTPConnection(ep.host, ep.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def stats(ep: Endpoint) -> dict[str, object]:
    """The server's /api/stats (it runs gc.collect() first, so mem_free is comparable)."""
    status, headers, body = get(ep, "/api/stats")
    assert status == 200 and headers["content-type"] == "application/json", (status, headers)
    return json.loads(body)


def read_until_closed(sock: socket.socket, limit: int = 1 << 20, timeout: float = TIMEOUT) -> tuple[bytes, str]:
    """Everything the peer sends until it closes: (data, 'eof' | 'reset').

    Raises TimeoutError when the peer neither sends nor closes in time.
    """
    sock.settimeout(timeout)
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data, "reset"
        if not chunk:
            return data, "eof"
        data += chunk
    raise AssertionError(f"peer sent more than {limit} bytes without closing")


def status_of(raw: bytes) -> int:
    line = raw.split(b"\r\n", 1)[0].split()
    assert len(line) >= 2 and line[0] == b"HTTP/1.1", raw[:200]
    return int(line[1])


# ---- httpd ---------------------------------------------------------------


def check_page_and_json(ep: Endpoint) -> None:
    status, headers, body = get(ep, "/")
    assert status == 200 and headers["content-type"].startswith("text/html"), (status, headers)
    assert b"Hello from pyunik" in body and int(headers["content-length"]) == len(body)
    state = stats(ep)
    assert {"requests", "connections", "open", "mem_free", "mem_alloc"} <= set(state), state
    assert get(ep, "/no/such/page")[0] == 404
    conn = http.client.HTTPConnection(ep.host, ep.port, timeout=TIMEOUT)
    try:
        conn.request("HEAD", "/")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"" and int(resp.getheader("content-length", "0")) > 0
    finally:
        conn.close()


def check_keep_alive_and_pipelining(ep: Endpoint, requests: int = 5) -> None:
    conn = http.client.HTTPConnection(ep.host, ep.port, timeout=TIMEOUT)
    try:
        for _ in range(requests):  # one TCP connection for all of them
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.status == 200 and b"pyunik" in resp.read()
            assert resp.getheader("connection") is None  # HTTP/1.1: persistent
    finally:
        conn.close()
    with connect(ep) as sock:  # two requests in one segment, answered in order
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nConnection: close\r\n\r\n")
        data, how = read_until_closed(sock)
    assert how == "eof" and data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:100]
    assert data.count(b"\r\nServer: pyunik-httpd\r\n") == 2 and b"HTTP/1.1 404 Not Found\r\n" in data
    with connect(ep) as sock:  # HTTP/1.0 without keep-alive: closed after the response
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data, how = read_until_closed(sock)
    assert how == "eof" and status_of(data) == 200


def open_connections(ep: Endpoint, count: int, timeout: float = TIMEOUT * 3) -> list[http.client.HTTPConnection]:
    """``count`` connections, opened one after another: QEMU's user network
    listens on a forwarded port with a backlog of 1, so a burst of SYNs would
    meet the host kernel's SYN retries (1, 3, 7 ... s) rather than the guest."""
    conns = []
    try:
        for _ in range(count):
            conn = http.client.HTTPConnection(ep.host, ep.port, timeout=timeout)
            conn.connect()
            conns.append(conn)
    except BaseException:
        for conn in conns:
            conn.close()
        raise
    return conns


def check_concurrent_clients(ep: Endpoint, clients: int = 30, requests: int = 4) -> None:
    """``clients`` keep-alive connections open at once, each asking ``requests`` times in parallel."""
    conns = open_connections(ep, clients)

    def client(conn: http.client.HTTPConnection) -> int:
        ok = 0
        for _ in range(requests):
            conn.request("GET", "/")
            resp = conn.getresponse()
            ok += resp.status == 200 and b"pyunik" in resp.read()
        return ok

    before = stats(ep)
    try:
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(client, conns, timeout=TIMEOUT * 6))
    except (OSError, http.client.HTTPException) as exc:
        # Say whether the server dropped a connection on purpose (its head
        # timeout) or something else closed it: the two need different fixes.
        after = stats(ep)
        raise AssertionError(
            f"{type(exc).__name__}: {exc}; server timeouts {before['timeouts']} -> {after['timeouts']}, "
            f"resets {before['resets']} -> {after['resets']}"
        ) from exc
    finally:
        for conn in conns:
            conn.close()
    peak = stats(ep)["peak_open"]
    assert results == [requests] * clients, results
    assert peak >= clients, peak  # type: ignore[operator]


MALFORMED = {
    "not http": b"GARBAGE\r\n\r\n",
    "binary": bytes(range(256)) + b"\r\n\r\n",
    "no version": b"GET /\r\n\r\n",
    "bad version": b"GET / HTTP/9.9\r\n\r\n",
    "bad target": b"GET index.html HTTP/1.1\r\n\r\n",
    "header without colon": b"GET / HTTP/1.1\r\nHost example\r\n\r\n",
    "space in header name": b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
    "bad content-length": b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    "closed mid-head": b"GET / HTTP/1.1\r\nHost: x\r\n",
}


def check_malformed_requests(ep: Endpoint) -> None:
    """Each malformed request gets 400 and a closed connection; the server keeps serving."""
    for name, raw in MALFORMED.items():
        with connect(ep) as sock:
            sock.sendall(raw)
            if name == "closed mid-head":
                sock.shutdown(socket.SHUT_WR)
            data, _ = read_until_closed(sock)
        assert data and status_of(data) == 400, (name, data[:200])
        assert b"Connection: close\r\n" in data, (name, data[:200])
        assert get(ep, "/")[0] == 200, name
    # A request that is well-formed but unsupported is refused, and closed.
    with connect(ep) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        data, _ = read_until_closed(sock)
    assert status_of(data) == 501, data[:200]


def check_silent_client_dropped(ep: Endpoint, server_timeout: float) -> float:
    """A client that connects and never sends is closed after about the server's
    timeout, and others are served meanwhile. Returns how long it was kept."""
    with connect(ep) as sock:
        begun = time.monotonic()
        assert get(ep, "/")[0] == 200  # served while the silent one waits
        _, how = read_until_closed(sock, timeout=server_timeout + TIMEOUT)
        kept = time.monotonic() - begun
    assert how in ("eof", "reset")
    assert kept >= server_timeout * 0.9, kept
    return kept


def check_slowloris(ep: Endpoint, server_timeout: float, interval: float = 0.25) -> float:
    """A client sending its head a byte at a time is cut off within about the
    server's timeout, however steadily it sends. Returns when, in seconds."""
    drip = b"X-Slow: " + b"a" * 1000
    with connect(ep) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        begun = time.monotonic()
        bound = server_timeout + TIMEOUT
        cut = None
        checked_others = False
        for i in range(int(bound / interval) + 1):
            try:
                sock.sendall(drip[i % len(drip) : i % len(drip) + 1])
                sock.settimeout(interval)
                if sock.recv(4096) == b"":
                    cut = time.monotonic() - begun
                    break
            except TimeoutError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                cut = time.monotonic() - begun
                break
            if not checked_others and time.monotonic() - begun > 1:
                assert get(ep, "/")[0] == 200, "others were not served during the slowloris"
                checked_others = True
    assert cut is not None, f"a slowloris client was kept more than {bound:.0f} s"
    return cut


def check_huge_headers(ep: Endpoint, total: int = 10 * 1024 * 1024) -> dict[str, object]:
    """10 MB of headers: 431 (or 400) and the connection closed, the server
    serving and its heap no bigger afterwards. Returns what was seen."""
    before = stats(ep)
    sock = connect(ep)
    sent = [0]

    def sender() -> None:
        line = b"X-Fill: " + b"a" * 1000 + b"\r\n"
        block = line * 64
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            while sent[0] < total:
                sock.sendall(block)
                sent[0] += len(block)
        except OSError:
            pass  # the server closed on us: what should happen

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        data, how = read_until_closed(sock, timeout=TIMEOUT * 2)
    finally:
        sock.close()
        thread.join(timeout=TIMEOUT)
    assert data, f"closed ({how}) with no response after {sent[0]} bytes"
    assert status_of(data) in (431, 400), data[:200]
    assert sent[0] < total, "the whole 10 MB was accepted"
    after = stats(ep)
    assert get(ep, "/")[0] == 200
    # The rejected head is garbage once the connection is gone.
    assert int(after["mem_alloc"]) < int(before["mem_alloc"]) + 64 * 1024, (before, after)  # type: ignore[call-overload]
    return {"sent_before_cut": sent[0], "closed": how, "before": before, "after": after}


def check_connection_churn(ep: Endpoint, connections: int = 1000, bound: int = 16 * 1024) -> dict[str, object]:
    """``connections`` connections opened, one request each, closed: the heap in
    use afterwards is within ``bound`` bytes of before (no leak per connection)."""
    stats(ep)  # one warm-up: first-use allocations (the stats dict, interned strings)
    before = stats(ep)
    deadline = time.monotonic() + 600
    for i in range(connections):
        with connect(ep) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            data, _ = read_until_closed(sock)
            assert status_of(data) == 200, (i, data[:100])
        assert time.monotonic() < deadline, f"only {i} connections in 600 s"
    after = stats(ep)
    grew = int(after["mem_alloc"]) - int(before["mem_alloc"])  # type: ignore[call-overload]
    assert grew < bound, (before, after)
    assert after["open"] == 1, after  # only the stats request itself
    return {"before": before, "after": after, "grew": grew}


# ---- echo ----------------------------------------------------------------


def check_tcp_echo(ep: Endpoint, sizes: tuple[int, ...] = (1, 100, 1460, 4096, 65536)) -> None:
    with connect(ep) as sock:
        for size in sizes:
            payload = bytes((i * 7 + size) & 0xFF for i in range(size))
            sock.sendall(payload)
            got = b""
            while len(got) < size:
                chunk = sock.recv(65536)
                assert chunk, f"closed after {len(got)} of {size} bytes"
                got += chunk
            assert got == payload, size


def check_udp_echo(ep: Endpoint, datagrams: int = 20) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        answered = 0
        for i in range(datagrams):
            payload = b"datagram %d " % i + b"x" * (i * 50)
            sock.sendto(payload, (ep.host, ep.port))
            try:
                data, _ = sock.recvfrom(4096)
            except TimeoutError:
                continue  # UDP may drop one; most must come back
            assert data == payload
            answered += 1
    assert answered >= datagrams * 0.9, f"{answered} of {datagrams} datagrams echoed"


def check_discard_and_source(discard: Endpoint, source: Endpoint, size: int = 1 << 20) -> None:
    with connect(discard) as sock:
        sock.sendall(b"\x5a" * size)
        sock.shutdown(socket.SHUT_WR)
        data, _ = read_until_closed(sock)
    assert data == b"%d\n" % size, data
    with connect(source) as sock:
        sock.sendall(b"%d\n" % size)
        data, how = read_until_closed(sock, limit=size + 1)
    assert len(data) == size and how == "eof", (len(data), how)
