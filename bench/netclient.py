"""Host-side load for the network benchmark, run pinned to the CPU QEMU is not on.

    taskset -c 1 python -m bench.netclient echo-rtt 127.0.0.1 PORT COUNT SIZE
    taskset -c 1 python -m bench.netclient bulk-up 127.0.0.1 DISCARD_PORT BYTES
    taskset -c 1 python -m bench.netclient bulk-down 127.0.0.1 SOURCE_PORT BYTES

Each prints one JSON object on stdout. The servers are examples/echo's
(echo, discard, source): the same app on pyunik and on the unix port in the
Linux guest. Every socket has a timeout; every loop is bounded by its count.
"""

from __future__ import annotations

import json
import socket
import sys
import time

TIMEOUT = 30.0


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def echo_rtt(host: str, port: int, count: int, size: int) -> dict[str, object]:
    """``count`` round trips of ``size`` bytes on one connection (after 20 not timed)."""
    payload = bytes(i & 0xFF for i in range(size))
    rtts = []
    with _connect(host, port) as sock:
        for i in range(count + 20):
            begun = time.perf_counter()
            sock.sendall(payload)
            got = 0
            while got < size:
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit(f"echo server closed after {i} round trips")
                got += len(chunk)
            if i >= 20:
                rtts.append(time.perf_counter() - begun)
    return {"rtt_us": [round(r * 1e6, 1) for r in rtts]}


def bulk_up(host: str, port: int, size: int) -> dict[str, object]:
    """Send ``size`` bytes to discard; timed until it reports having them all."""
    block = b"\x5a" * 65536
    with _connect(host, port) as sock:
        begun = time.perf_counter()
        sent = 0
        while sent < size:
            n = min(len(block), size - sent)
            sock.sendall(block[:n])
            sent += n
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(64)
            if not chunk:
                break
            reply += chunk
        seconds = time.perf_counter() - begun
    if reply.strip() != str(size).encode():
        raise SystemExit(f"discard counted {reply!r}, {size} were sent")
    return {"bytes": size, "seconds": seconds}


def bulk_down(host: str, port: int, size: int) -> dict[str, object]:
    """Ask source for ``size`` bytes; timed until the last one and the close."""
    with _connect(host, port) as sock:
        begun = time.perf_counter()
        sock.sendall(b"%d\n" % size)
        got = 0
        while True:
            chunk = sock.recv(262144)
            if not chunk:
                break
            got += len(chunk)
        seconds = time.perf_counter() - begun
    if got != size:
        raise SystemExit(f"source sent {got} bytes, {size} were asked for")
    return {"bytes": size, "seconds": seconds}


COMMANDS = {"echo-rtt": echo_rtt, "bulk-up": bulk_up, "bulk-down": bulk_down}


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    command, host, numbers = argv[0], argv[1], [int(a) for a in argv[2:]]
    print(json.dumps(COMMANDS[command](host, *numbers)))  # type: ignore[operator]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
