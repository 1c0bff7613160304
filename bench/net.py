"""Network (issue 13): the same asyncio HTTP server and echo server on pyunik and in a Linux guest.

The apps are examples/httpd and examples/echo. pyunik runs them frozen into
the `qemu-microvm-net` image; the Linux guest (bench/linux.py: Debian's
kernel with its own virtio_net module, busybox, udhcpc) runs the same files
with the MicroPython unix port from the same pinned tree. Both boot under
the same QEMU (TCG, one vCPU pinned to host CPU 0 with taskset), the same
-m, the same machine, NIC model and netdev (pyunik.vm builds both command
lines from the board: QEMU's user network with hostfwd on 127.0.0.1, or a
tap inside a network namespace made for the ping), and both get their
address by DHCP (or the same static ip=/gw= words in the namespace). The
unix port gets pyunik's heap. The host-side load runs pinned to CPU 1.

Measured, per platform:

- boot -> first HTTP response: QEMU start until a GET / on the forwarded
  port answers 200 (repeated boots, median);
- idle with a DHCP lease held: QEMU's host CPU (utime+stime from /proc) and
  the guest's interrupts per second over a quiet window (pyunik: its
  pvboot.idle_stats(); Linux: /proc/stat's interrupt total), read through
  /api/stats before and after;
- HTTP requests/s with wrk (Debian's) at 1 and 30 connections, keep-alive;
- TCP echo round trip (p50/p99) and bulk TCP MB/s both ways
  (bench/netclient.py against echo/discard/source);
- ping RTT p50/p99: 200 ICMP echoes from inside a namespace to a guest on a
  tap there (QEMU's user network cannot deliver ICMP to a guest);
- least -m that still serves 30 concurrent keep-alive connections
  (bisection; pyunik in 64 KiB steps, Linux in MiB).

Ratios are pyunik / Linux guest, from one run of this module. Goals (issue
13): requests/s >= 1.5x at both concurrencies, echo RTT p50 <= 0.6x, ping
<= 1.0x, bulk >= 1.0x, the server in <= 3 MiB, boot to first response <=
0.1x, idle <= 2 wake-ups/s and < 1% host CPU.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import boot, common, linux
from bench.common import Stats
from pyunik import board as boards
from pyunik import vm

BOARD = "qemu-microvm-net"
#: The same -m for both guests in every measure but the least-memory one:
#: comfortably above what the Linux guest needs with networking.
MEMORY = "128M"
#: The heap the unix port gets when pyunik's could not be read.
DEFAULT_HEAP = 8 * 1024 * 1024
QEMU_CPU = "0"
CLIENT_CPU = "1"
HTTP_PORT = 80
ECHO_PORTS = {"echo": 7, "discard": 9, "source": 19}
BOOT_TIMEOUT = {"pyunik": 30.0, "linux-guest": 90.0}
#: In the least-memory bisection: a guest that is not serving by then does not boot at that -m.
LEAST_BOOT_TIMEOUT = {"pyunik": 15.0, "linux-guest": 60.0}
NO_BOOT = "did not come up"
#: How long one GET waits while polling for the first response. A SYN that slirp
#: forwards before the guest has its address is lost, and slirp retransmits it only
#: after ~2 s: with a 2 s client timeout that retransmission, not the guest, set
#: the figure (pyunik measured 2.2 s this way, 0.41 s with 0.3 s). A stale attempt
#: is abandoned after this long and a fresh one made; the same for both platforms.
FIRST_RESPONSE_ATTEMPT_S = 0.25
PING_COUNT = 200
GOALS = {
    "http_rps_c1 >= 1.5x": ("http_rps_c1", ">=", 1.5),
    "http_rps_c30 >= 1.5x": ("http_rps_c30", ">=", 1.5),
    "echo_rtt_p50 <= 0.6x": ("echo_rtt_p50_us", "<=", 0.6),
    "ping_p50 <= 1.0x": ("ping_p50_ms", "<=", 1.0),
    "bulk_up >= 1.0x": ("bulk_up_mb_s", ">=", 1.0),
    "bulk_down >= 1.0x": ("bulk_down_mb_s", ">=", 1.0),
    "first_response <= 0.1x": ("first_response_ms", "<=", 0.1),
}
PLATFORMS = ("pyunik", "linux-guest")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(argv: list[str], cpu: str) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else argv


def user_net(forwards: dict[int, int], udp: tuple[int, ...] = ()) -> str:
    """A -netdev spec: QEMU's user network, host 127.0.0.1:HOST -> guest :GUEST."""
    rules = [f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for guest, host in forwards.items()]
    rules += [f"hostfwd=udp:127.0.0.1:{forwards[guest]}-:{guest}" for guest in udp]
    return "user," + ",".join(rules)


# ---- the two guests --------------------------------------------------------


@dataclass
class Guest:
    """One platform's command lines for an app."""

    name: str
    argv: Callable[[str, str, list[str], str], list[str]]  # (app, memory, net specs, app options)


def pyunik_guest() -> Guest:
    images = {app: common.app_image(BOARD, common.ROOT / "examples" / app) for app in ("httpd", "echo")}

    def argv(app: str, memory: str, net: list[str], options: str) -> list[str]:
        image = images[app]
        command = vm.qemu_command(
            image.board,
            image.stripped,
            serial="stdio",
            memory=memory,
            cmdline=" ".join(w for w in (image.board.vm.cmdline, options) if w),
            plugin_args=image.qemu_args,
            extra=["-no-reboot"],
            net=net,
        )
        return list(command.argv)

    return Guest("pyunik", argv)


def linux_guest(heap: Callable[[], int | None]) -> Guest:
    """The unix port in the Linux guest with ``heap()`` bytes of heap (None: its default, 2 MiB)."""

    def argv(app: str, memory: str, net: list[str], options: str) -> list[str]:
        words = options.split()
        own = [w for w in words if w.startswith(("ip=", "gw="))]
        appopts = ",".join(w for w in words if w not in own)
        kernel = " ".join(["net=dhcp", *own, *([f"appopts={appopts}"] if appopts else [])])
        size = heap()
        init = (f"-X heapsize={size} " if size else "") + f"/apps/{app}/main.py"
        return linux.argv(BOARD, memory, init, net=net, options=kernel)

    return Guest("linux-guest", argv)


@contextlib.contextmanager
def serving(guest: Guest, app: str, memory: str, net: list[str], options: str = "", wrap: list[str] | None = None,
            ready: bytes = b"", timeout: float | None = None) -> Iterator[common.Console]:  # fmt: skip
    """QEMU (pinned to QEMU_CPU) serving ``app`` until ``ready`` shows on the console."""
    argv = pinned(guest.argv(app, memory, net, options), QEMU_CPU)
    with common.Console([*(wrap or []), *argv]) as console:
        marker = ready or (b"httpd: listening" if app == "httpd" else b"echo: tcp+udp")
        console.expect_or_fail(marker, timeout or BOOT_TIMEOUT[guest.name], fail=linux.FAILURES)
        yield console


def get(port: int, path: str = "/", timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def first_response(guest: Guest, memory: str) -> float:
    """Seconds from QEMU's start to the first 200 answer to GET / through the forwarded port."""
    port = free_port()
    argv = pinned(guest.argv("httpd", memory, [user_net({HTTP_PORT: port})], ""), QEMU_CPU)
    with common.Console(argv) as console:
        deadline = time.perf_counter() + BOOT_TIMEOUT[guest.name]
        while time.perf_counter() < deadline:
            if console.proc.poll() is not None:
                raise common.BenchError(f"{guest.name}: QEMU exited: {console.tail()!r} {console.stderr_text()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                # slirp accepts at once and drops the connection while nothing listens in the guest.
                if get(port, timeout=FIRST_RESPONSE_ATTEMPT_S)[0] == 200:
                    return time.perf_counter() - console.started
            time.sleep(0.005)
    raise common.BenchError(f"{guest.name}: no HTTP response within {BOOT_TIMEOUT[guest.name]} s: {console.tail()!r}")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle(console: common.Console, port: int, seconds: float) -> dict[str, Any]:
    """Host CPU of QEMU and guest interrupts/s while the server waits, its DHCP lease held."""
    before = json.loads(get(port, "/api/stats")[1])
    cpu0, t0 = _cpu_seconds(console.proc.pid), time.perf_counter()
    time.sleep(seconds)
    cpu1, t1 = _cpu_seconds(console.proc.pid), time.perf_counter()
    after = json.loads(get(port, "/api/stats")[1])
    wall = t1 - t0
    entry: dict[str, Any] = {"seconds": round(wall, 2), "host_cpu_percent": round(100 * (cpu1 - cpu0) / wall, 3)}
    if after.get("idle_interrupts") is not None and before.get("idle_interrupts") is not None:
        entry["wakeups_per_s"] = round((after["idle_interrupts"] - before["idle_interrupts"]) / wall, 2)
    if after.get("idle_halts") is not None and before.get("idle_halts") is not None:
        entry["halts_per_s"] = round((after["idle_halts"] - before["idle_halts"]) / wall, 2)
    entry["heap_bytes"] = after["mem_free"] + after["mem_alloc"]
    return entry


_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


def wrk(port: int, connections: int, seconds: int) -> dict[str, Any]:
    """wrk (keep-alive GET /) pinned to CLIENT_CPU; requests/s and errors."""
    threads = min(connections, 2)
    argv = pinned(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
         f"http://127.0.0.1:{port}/"],
        CLIENT_CPU,
    )  # fmt: skip
    done = common.run(argv, seconds + 30)
    out = done.stdout.decode(errors="replace")
    match = _WRK_RPS.search(out)
    if match is None or done.returncode:
        raise common.BenchError(f"wrk -c{connections} failed (exit {done.returncode}): {out[-800:]}")
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(match.group(1)),
        "socket_errors": errors.group(1).strip() if errors else "none",
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "output": out[-1200:],
    }


def netclient(*args: str | int, timeout: float = 120) -> dict[str, Any]:
    argv = pinned([sys.executable, "-m", "bench.netclient", *map(str, args)], CLIENT_CPU)
    done = common.run(argv, timeout, cwd=common.ROOT)
    if done.returncode or done.timed_out:
        raise common.BenchError(f"bench.netclient {args[0]}: {done.stdout.decode(errors='replace')[-800:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def echo_and_bulk(guest: Guest, memory: str, rtt_count: int, bulk_bytes: int) -> dict[str, Any]:
    ports = {guest_port: free_port() for guest_port in ECHO_PORTS.values()}
    net = [user_net(ports)]
    with serving(guest, "echo", memory, net):
        rtts = netclient("echo-rtt", "127.0.0.1", ports[ECHO_PORTS["echo"]], rtt_count, 64)["rtt_us"]
        up = netclient("bulk-up", "127.0.0.1", ports[ECHO_PORTS["discard"]], bulk_bytes)
        down = netclient("bulk-down", "127.0.0.1", ports[ECHO_PORTS["source"]], bulk_bytes)
    return {
        "echo_rtt_p50_us": round(statistics.median(rtts), 1),
        "echo_rtt_p99_us": round(percentile(rtts, 99), 1),
        "echo_round_trips": len(rtts),
        "bulk_up_mb_s": round(up["bytes"] / up["seconds"] / 1e6, 2),
        "bulk_down_mb_s": round(down["bytes"] / down["seconds"] / 1e6, 2),
        "bulk_bytes": bulk_bytes,
    }


def http_and_idle(guest: Guest, memory: str, wrk_seconds: int, idle_seconds: float) -> dict[str, Any]:
    port = free_port()
    with serving(guest, "httpd", memory, [user_net({HTTP_PORT: port})]) as console:
        if get(port)[0] != 200:
            raise common.BenchError(f"{guest.name}: GET / did not answer 200")
        quiet = idle(console, port, idle_seconds)
        c1 = wrk(port, 1, wrk_seconds)
        c30 = wrk(port, 30, wrk_seconds)
        after = json.loads(get(port, "/api/stats")[1])
    return {
        "idle": quiet,
        "http_rps_c1": c1["requests_per_s"],
        "http_rps_c30": c30["requests_per_s"],
        "wrk_c1": c1,
        "wrk_c30": c30,
        "server_stats_after": after,
    }


_PING_TIME = re.compile(r"time=([\d.]+) ms")


def ping(guest: Guest, memory: str, count: int) -> dict[str, Any]:
    """ICMP echo from a namespace to the guest on a tap inside it (all of it inside the namespace)."""
    sys.path.insert(0, str(common.ROOT / "tests" / "support"))
    import netns  # the tests' namespace fixture: made here, always removed

    why = netns.unavailable()
    if why:
        raise common.BenchError(f"ping needs a network namespace: {why}")
    with netns.namespace() as ns:
        net = [f"tap,{ns.qemu_netdev()}"]
        with serving(guest, "httpd", memory, net, options=ns.guest_cmdline, wrap=ns.wrap([])):
            ns.run(["ping", "-c", "3", "-W", "2", ns.guest_addr], timeout=30)  # ARP and warm-up
            done = ns.run(
                pinned(["ping", "-c", str(count), "-i", "0.01", "-W", "2", ns.guest_addr], CLIENT_CPU),
                timeout=count * 0.05 + 60,
            )
    times = [float(t) for t in _PING_TIME.findall(done.stdout)]
    if len(times) < count * 0.9:
        raise common.BenchError(f"{guest.name}: {len(times)} of {count} pings answered: {done.stdout[-500:]}")
    return {
        "ping_p50_ms": round(statistics.median(times), 3),
        "ping_p99_ms": round(percentile(times, 99), 3),
        "ping_answered": len(times),
        "ping_sent": count,
    }


def serves_thirty(guest: Guest, memory: str) -> str | None:
    """None when the guest at -m ``memory`` keeps 30 keep-alive connections open
    at once and answers 2 requests on each (in parallel); else what went wrong.

    The connections are opened one after another (see tests/support/netclients.py:
    QEMU's forwarded port has a listen backlog of 1) and then used together.
    """
    from concurrent.futures import ThreadPoolExecutor

    port = free_port()
    try:
        # timeout=60: no connection is dropped as idle while the others are being opened.
        with serving(
            guest, "httpd", memory, [user_net({HTTP_PORT: port})], "timeout=60", timeout=LEAST_BOOT_TIMEOUT[guest.name]
        ):
            conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(30)]
            try:
                for conn in conns:
                    conn.connect()

                def client(conn: http.client.HTTPConnection) -> int:
                    ok = 0
                    for _ in range(2):
                        conn.request("GET", "/")
                        resp = conn.getresponse()
                        ok += resp.status == 200 and len(resp.read()) > 0
                    return ok

                with ThreadPoolExecutor(30) as pool:
                    results = list(pool.map(client, conns, timeout=90))
                peak = json.loads(get(port, "/api/stats", timeout=30)[1])["peak_open"]
            finally:
                for conn in conns:
                    conn.close()
            if results != [2] * 30:
                return f"answers per connection: {results}"
            return None if peak >= 30 else f"only {peak} connections were open at once"
    except common.GuestTimeout as exc:
        return f"{NO_BOOT}: {str(exc)[-300:]}"
    except (common.BenchError, OSError, http.client.HTTPException, TimeoutError, ValueError) as exc:
        return f"{type(exc).__name__}: {str(exc)[-300:]}"


def least_memory(guest: Guest, quick: bool) -> dict[str, Any]:
    """Bisection of -m: pyunik in KiB steps from 1 MiB, Linux in MiB steps from 32 MiB, up to 256 MiB."""
    tries: list[dict[str, Any]] = []
    if guest.name == "pyunik":
        step, low, high = (256 if quick else 64), 1024, 32 * 1024  # KiB
    else:
        step, low, high = (16 if quick else 4) * 1024, 32 * 1024, 256 * 1024

    def works(units: int) -> bool:
        # A size fails only when it fails twice: under TCG on a shared host a
        # client can time out for reasons that have nothing to do with memory.
        # A guest that does not come up at all does not get a second try.
        failures = []
        for _ in range(2):
            failure = serves_thirty(guest, f"{units * step}K")
            if failure is None:
                break
            failures.append(failure)
            if failure.startswith(NO_BOOT):
                break
        ok = failure is None
        tries.append({"kib": units * step, "serves_30": ok, "failures": failures})
        return ok

    found = boot.bisect_least(works, low // step, high // step, tries)
    return {"least_kib": None if found is None else found * step, "step_kib": step, "tries": tries}


# ---- the run -----------------------------------------------------------------


def run(quick: bool) -> dict[str, object]:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise common.BenchError(f"{tool} is not installed (./bootstrap.sh installs it)")
    try:
        boards.load(BOARD)
    except boards.BoardError as exc:
        raise common.BenchError(f"board {BOARD} is not there yet: {exc}") from None
    boots = {"pyunik": 3 if quick else 7, "linux-guest": 1 if quick else 3}
    wrk_seconds = 3 if quick else 8
    idle_seconds = 5.0 if quick else 10.0
    rtt_count = 200 if quick else 1000
    bulk_bytes = (4 if quick else 16) * 1024 * 1024
    ping_count = 50 if quick else PING_COUNT

    heap: dict[str, int] = {}
    guests = {"pyunik": pyunik_guest(), "linux-guest": linux_guest(lambda: heap.get("pyunik", DEFAULT_HEAP))}
    platforms: dict[str, dict[str, Any]] = {name: {} for name in guests}
    errors: dict[str, dict[str, str]] = {name: {} for name in guests}

    def measure(name: str, what: str, fn: Callable[[], dict[str, Any]]) -> None:
        common.log(f"net: {what} on {name}")
        try:
            platforms[name].update(fn())
        except common.BenchError as exc:
            errors[name][what] = str(exc)[:800]
            common.log(f"net: {what} on {name} failed: {str(exc)[:300]}")

    # pyunik first in each step: its heap size is what the unix port then gets.
    for name, guest in guests.items():
        measure(name, "http+idle", lambda g=guest: http_and_idle(g, MEMORY, wrk_seconds, idle_seconds))
        if name == "pyunik" and "idle" in platforms[name]:
            heap["pyunik"] = platforms[name]["idle"]["heap_bytes"]
    for name, guest in guests.items():
        measure(name, "echo+bulk", lambda g=guest: echo_and_bulk(g, MEMORY, rtt_count, bulk_bytes))
    for name, guest in guests.items():
        measure(name, "ping", lambda g=guest: ping(g, MEMORY, ping_count))
    # Boots alternate between the platforms so that a busy moment on the host hits both.
    times: dict[str, list[float]] = {name: [] for name in guests}
    for i in range(max(boots.values())):
        for name, guest in guests.items():
            if i < boots[name]:
                try:
                    times[name].append(first_response(guest, MEMORY))
                except common.BenchError as exc:
                    errors[name]["first_response"] = str(exc)[:800]
    for name in guests:
        if times[name]:
            stats = Stats.of(times[name])
            platforms[name]["first_response"] = stats.as_dict(1000, 1)
            platforms[name]["first_response_ms"] = round(stats.median * 1000, 1)
    # Least memory: the unix port with its default heap (2 MiB), not pyunik's heap at
    # -m 128M, which would not fit in the smaller guests being tried.
    least_guests = {"pyunik": guests["pyunik"], "linux-guest": linux_guest(lambda: None)}
    for name, guest in least_guests.items():
        measure(name, "least memory", lambda g=guest: {"least_memory": least_memory(g, quick)})

    py, lx = platforms["pyunik"], platforms["linux-guest"]
    ratios: dict[str, float | None] = {}
    goals: dict[str, bool] = {}
    for label, (metric, op, goal) in GOALS.items():
        value = common.ratio(py[metric], lx[metric]) if metric in py and metric in lx else None
        ratios[f"{metric}: pyunik / linux-guest"] = value
        goals[label] = value is not None and (value >= goal if op == ">=" else value <= goal)
    least = py.get("least_memory", {}).get("least_kib")
    goals["http server in <= 3 MiB (least -m serving 30 connections)"] = least is not None and least <= 3 * 1024
    quiet = py.get("idle", {})
    goals["idle <= 2 wake-ups/s"] = quiet.get("wakeups_per_s") is not None and quiet["wakeups_per_s"] <= 2
    goals["idle < 1% host CPU"] = quiet.get("host_cpu_percent") is not None and quiet["host_cpu_percent"] < 1
    return {
        "what": "examples/httpd and examples/echo on pyunik vs the unix port in a Linux guest, same QEMU and netdev",
        "board": BOARD,
        "memory": MEMORY,
        "qemu_cpu": QEMU_CPU,
        "client_cpu": CLIENT_CPU,
        "unix_port_heap_bytes": heap.get("pyunik", DEFAULT_HEAP),
        "settings": {
            "boots": boots,
            "wrk_seconds": wrk_seconds,
            "idle_seconds": idle_seconds,
            "echo_round_trips": rtt_count,
            "bulk_bytes": bulk_bytes,
            "pings": ping_count,
        },
        "platforms": platforms,
        "errors": {k: v for k, v in errors.items() if v},
        "ratios": ratios,
        "goals": goals,
    }
