"""pyunik's domU beside a Linux PVH domU in the Xen rig: the goals of issue 17.

`invoke bench --only xen` runs this after bench/xen.py's boot figures, in the
same rig boot. Both domUs are PVH, on the rig's bridge (one vif each), with
the same two disks (a littlefs image as xvda, a raw 8 MiB image as xvdb),
and run the same app: examples/httpd (pyunik: frozen into the xen-pvh
image; Linux: the unix port, bench/xen_linux.py). Run by run, interleaved
(pyunik, Linux, pyunik, ...); a run that fails is counted with its reason:

- create -> first HTTP response: from the host's call of ``xl create`` (the
  rig's create: create paused, console bridged, unpause; the same for both;
  the image and the disks are in the share before the clock starts) until
  dom0 has the page: bench/xen_first_http.py, one unix-port process in
  dom0 started right after the unpause, keeps a connect outstanding (a
  fresh one 50 ms after a refusal or an unreachable address) and reads the
  whole response; dom0's ARP asks every 50 ms on the bridge (Linux's
  default, 1 s, would round both sides' figures up to it). As xl_create_s, that create's own part (xl reads the
  kernel from the rig's 9p share and builds the domain: Linux's vmlinux is
  66 MB, pyunik's 3 MB), and as boot_to_http_s the rest. Before each run's
  clock starts, dom0 is left to settle (XenRig.wait_quiet: the previous
  domain, its backends, vif, loop devices and hotplug scripts all gone, the
  bridge's neighbour entries flushed), the same wait for both sides; each
  run records its steps (xl create, console bridge, unpause, the guest's
  first console line with its address, the poll's attempts) and the load;
- HTTP requests/s: dom0 runs bench/xen_httpload.py under the unix port (the
  dom0 has no wrk): 4 keep-alive connections, one GET / outstanding on each,
  until 3,000 responses or 10 s; errors counted;
- TCP echo RTT: the domU connects to dom0's busybox ``nc -e cat`` and times
  100 round trips of 32 bytes (bench/xen_io.py's program, the same text on
  both), p50 and p99;
- blkfront sequential read: 8 MiB of xvdb in 64 KiB reads, timed in the
  domU (pyunik: blockdev.Disk(1).readblocks, no cache; Linux: readinto on
  /dev/xvdb after dropping the page cache, so the reads reach the device).

pyunik's echo and disk figures come from a second, REPL domU (the httpd
image has no REPL while it serves); Linux runs them from the shell its
/xen-init leaves on the console, with httpd idle in the background.
Ratios are pyunik's median over Linux's (for times: lower is better).
Last, once: does pyunik's httpd image answer HTTP in ``memory = 4``?
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from bench import common, xen_io, xen_linux
from pyunik import board as boards
from pyunik import build, disk
from rigs import xenrig
from rigs.xenrig import XenRig

BOARD = "xen-pvh"
PYUNIK_ADDRESS, LINUX_ADDRESS = "10.0.3.4", "10.0.3.5"
PYUNIK_MAC, LINUX_MAC = "00:16:3e:50:59:20", "00:16:3e:50:59:21"
READ_MIB = 8
CONNECTIONS, MAX_REQUESTS, LOAD_SECONDS = 4, 3000, 10
SMALL_MEMORY_MB = 4

READ_PYUNIK = f"""import blockdev, time
d = blockdev.Disk(1, 4096)
b = bytearray(65536)
t = time.ticks_us()
bad = [r for r in (d.readblocks(i * 16, b) for i in range({READ_MIB * 16})) if r]
print('RAWREAD', time.ticks_diff(time.ticks_us(), t), len(bad))
"""
READ_LINUX = f"""import time
with open('/proc/sys/vm/drop_caches', 'w') as f:
    f.write('3\\n')
b = bytearray(65536)
f = open('/dev/xvdb', 'rb')
t = time.ticks_us()
got = 0
for i in range({READ_MIB * 16}):
    got += f.readinto(b)
print('RAWREAD', time.ticks_diff(time.ticks_us(), t), {READ_MIB << 20} - got)
f.close()
"""
KEYS = (
    "create_to_http_s",
    "xl_create_s",
    "boot_to_http_s",
    "http_requests_s",
    "tcp_echo_p50_ms",
    "tcp_echo_p99_ms",
    "blk_seq_read_mb_s",
)
#: Where each run's create -> first HTTP went (bench/xen_http._steps).
STEP_KEYS = (
    "quiet_wait_s",
    "xl_create_only_s",
    "console_attach_s",
    "unpause_s",
    "first_console_byte_s",
    "address_line_s",
    "poll_attempts",
    "load_1min",
)
#: The console line each side prints once its address is set: pyunik's
#: examples/httpd, Linux's /xen-init (bench/xen_linux.py).
ADDRESS_LINE = {"pyunik": b"httpd: address", "linux": b"xen-init: eth0"}
#: dom0's ARP retry on the rig's bridge while a run waits for its guest (see
#: the module docstring); Linux's default is 1000.
ARP_RETRANS_MS = 50
#: ... and asks this many times before it gives up on the address (then the
#: poll's next connect starts asking again): a 1 s cycle, as Linux's 3 x 1 s
#: default is 3 s.
ARP_PROBES = 20
#: Where _Sides puts the dom0 unix port: dom0's tmpfs, not the 9p share
#: (cache=none there: every start would read the binary over virtio-9p).
DOM0_UPY = "/run/dom0-upy"
#: True when a bigger figure is better (the goal is pyunik / Linux >= the target).
HIGHER_IS_BETTER = {"http_requests_s": True, "blk_seq_read_mb_s": True}
GOALS = {"http_requests_s": 1.5, "blk_seq_read_mb_s": 1.0, "create_to_http_s": 0.2}


def _vif(mac: str) -> str:
    return f"vif = ['mac={mac},bridge={xenrig.RIG_BRIDGE},script=/etc/pyunik/vif-bridge']"


def _disks(rig: XenRig, tag: str) -> str:
    data, raw = rig.disks / f"http-data-{tag}.img", rig.disks / f"http-raw-{tag}.img"
    disk.create(data, "lfs", 4 << 20)
    raw.write_bytes(bytes(READ_MIB << 20))
    return rig.disk_config([data, raw])


def _first_http(rig: XenRig, upy: str, address: str, timeout_s: int = 120) -> int:
    """Until dom0 gets the page from ``address`` (bench/xen_first_http.py,
    bounded by ``timeout_s``); the number of attempts it took."""
    status, out = rig.sh(
        f"timeout {timeout_s + 30} {upy} {DOM0_UPY}/xen_first_http.py {address} 80 {timeout_s}",
        timeout=timeout_s + 60,
    )
    found = re.search(r"FIRST (\d+) ", out)
    if status or not found:
        raise common.BenchError(f"dom0 got no HTTP response from {address}: {out[-300:]}")
    return int(found.group(1))


class _ConsoleWatch:
    """While a run waits for its first HTTP response: the domU's console
    read in a thread, so that the run can say when the guest printed what
    (host time); afterwards the bytes go to ``guest`` for its read_until."""

    def __init__(self, guest: xen_io._Guest, since: float, marker: bytes) -> None:
        self.guest, self.since, self.marker = guest, since, marker
        self.first_byte_s: float | None = None
        self.marker_s: float | None = None
        self._data = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="xen-http-console", daemon=True)

    def _read(self) -> None:
        port = self.guest.rig.serial
        while not self._stop.is_set():
            chunk = port.read(port.in_waiting or 1)  # the port's timeout: 1 s
            if not chunk:
                continue
            now = time.monotonic() - self.since
            if self.first_byte_s is None:
                self.first_byte_s = now
            self._data += chunk
            if self.marker_s is None and self.marker in self._data:
                self.marker_s = now

    def __enter__(self) -> _ConsoleWatch:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.guest.seen += self._data


def _steps(rig: XenRig, watch: _ConsoleWatch, quiet_s: float, tries: int) -> dict[str, float]:
    """Where one run's create -> first HTTP went (s from the xl create call)."""
    return {
        "quiet_wait_s": quiet_s,
        "xl_create_only_s": rig.timings["create.xl_create"],
        "console_attach_s": rig.timings["create.attach"],
        "unpause_s": rig.timings["create.unpause"],
        "first_console_byte_s": watch.first_byte_s if watch.first_byte_s is not None else float("nan"),
        "address_line_s": watch.marker_s if watch.marker_s is not None else float("nan"),
        "poll_attempts": tries,
        "load_1min": os.getloadavg()[0],
    }


def _load(rig: XenRig, upy: str, address: str) -> tuple[float, int]:
    """(requests/s, errors) of bench/xen_httpload.py from dom0."""
    status, out = rig.sh(
        f"timeout 90 {upy} /mnt/share/dom0-upy/xen_httpload.py {address} 80 "
        f"{CONNECTIONS} {MAX_REQUESTS} {LOAD_SECONDS}",
        timeout=120,
    )
    found = re.search(r"HTTPLOAD (\d+) (\d+) (\d+)", out)
    if status or not found:
        raise common.BenchError(f"the HTTP load from dom0 failed: {out[-400:]}")
    ok, errors, us = (int(g) for g in found.groups())
    if ok == 0:
        raise common.BenchError(f"no HTTP response under load ({errors} errors)")
    return ok / (us / 1e6), errors


def _echo(rig: XenRig, guest: xen_io._Guest, command: str) -> tuple[float, float]:
    xen_io._listen(rig, xen_io.ECHO_PORT, f"timeout 150 nc -l -p {xen_io.ECHO_PORT} -e cat >/dev/null 2>&1")
    rig.serial.write(command.encode())
    found = guest.read_until(rb"ECHO (\d+) (\d+) (\d)\r\n", 120)
    if found.group(3) != b"1":
        raise common.BenchError("the echo came back different")
    return float(found.group(1)) / 1000, float(found.group(2)) / 1000


def _read_mb_s(guest: xen_io._Guest, command: str) -> float:
    guest.rig.serial.write(command.encode())
    found = guest.read_until(rb"RAWREAD (\d+) (\d+)\r\n", 300)
    if int(found.group(2)):
        raise common.BenchError(f"the raw read failed: {found.group(0)!r}")
    return READ_MIB / (float(found.group(1)) / 1e6)


def _run_row(
    first: float,
    create: float,
    rps: float,
    errors: float,
    p50: float,
    p99: float,
    read: float,
    steps: dict[str, float],
) -> dict[str, float]:
    """One run's figures, under the same keys for both sides."""
    return {
        "create_to_http_s": first,
        "xl_create_s": create,
        "boot_to_http_s": first - create,
        **steps,
        "http_requests_s": rps,
        "http_errors": errors,
        "tcp_echo_p50_ms": p50,
        "tcp_echo_p99_ms": p99,
        "blk_seq_read_mb_s": read,
    }


class _Sides:
    """What each side boots: pyunik's two images, Linux's kernel + initramfs, dom0's clients."""

    def __init__(self, rig: XenRig) -> None:
        self.rig = rig
        self.httpd = build.build(boards.load(BOARD), app=build.App.load(common.ROOT / "examples" / "httpd")).elf
        self.repl = build.build(boards.load(BOARD)).elf
        self.initramfs = xen_linux.initramfs(rig, {"xen_echo.py": xen_io.GUEST_ECHO, "xen_read.py": READ_LINUX})
        share_upy = xen_linux.dom0_micropython(rig)
        for client in ("xen_httpload.py", "xen_first_http.py"):
            (rig.share / "dom0-upy" / client).write_bytes((Path(__file__).parent / client).read_bytes())
        status, out = rig.sh(
            f"rm -rf {DOM0_UPY} && cp -a /mnt/share/dom0-upy {DOM0_UPY} "
            f"&& echo {ARP_RETRANS_MS} > /proc/sys/net/ipv4/neigh/{xenrig.RIG_BRIDGE}/retrans_time_ms "
            f"&& echo {ARP_PROBES} > /proc/sys/net/ipv4/neigh/{xenrig.RIG_BRIDGE}/mcast_solicit"
        )
        if status:
            raise common.BenchError(f"dom0's clients could not be set up: {out}")
        self.upy = share_upy.replace("/mnt/share/dom0-upy", DOM0_UPY)

    def _serve(
        self, domain: xenrig.Domain, side: str, address: str, quiet_s: float, timeout_s: int
    ) -> tuple[xen_io._Guest, float, dict[str, float]]:
        """Both sides' wait for the first HTTP response: (the domU's console,
        seconds from the xl create call, the run's steps)."""
        guest = xen_io._Guest(self.rig, domain)
        with _ConsoleWatch(guest, domain.create_called_at, ADDRESS_LINE[side]) as watch:
            tries = _first_http(self.rig, self.upy, address, timeout_s)
            first = time.monotonic() - domain.create_called_at
        return guest, first, _steps(self.rig, watch, quiet_s, tries)

    def pyunik(self, i: int) -> dict[str, float]:
        rig = self.rig
        cmdline = f"ip={PYUNIK_ADDRESS}/{xenrig.RIG_PREFIX}"
        config = [_vif(PYUNIK_MAC), _disks(rig, f"p{i}")]
        quiet_s = rig.wait_quiet()
        rig.serial.reset_input_buffer()
        domain = rig.create(self.httpd, f"http-pyunik-{i}", cmdline=cmdline, extra_config=config)
        create = rig.timings["create"]
        try:
            _, first, steps = self._serve(domain, "pyunik", PYUNIK_ADDRESS, quiet_s, 120)
            rps, errors = _load(rig, self.upy, PYUNIK_ADDRESS)
        finally:
            domain.destroy()
        config = [_vif(PYUNIK_MAC), _disks(rig, f"p{i}")]
        rig.wait_quiet()
        domain = rig.create(self.repl, f"io-pyunik-{i}", cmdline=cmdline, extra_config=config)
        guest = xen_io._Guest(rig, domain)
        try:
            guest.read_until(b">>> ", 120)
            p50, p99 = _echo(rig, guest, f"exec({xen_io.GUEST_ECHO!r})\r")
            guest.read_until(b">>> ", 30)
            read = _read_mb_s(guest, f"exec({READ_PYUNIK!r})\r")
        finally:
            domain.destroy()
            rig.sh("killall nc 2>/dev/null; true")
        return _run_row(first, create, rps, errors, p50, p99, read, steps)

    def linux(self, i: int) -> dict[str, float]:
        rig = self.rig
        config = [_vif(LINUX_MAC), _disks(rig, f"l{i}")]
        quiet_s = rig.wait_quiet()
        rig.serial.reset_input_buffer()
        domain = xen_linux.create(
            rig, f"http-linux-{i}", self.initramfs, f"{LINUX_ADDRESS}/{xenrig.RIG_PREFIX}", config
        )
        create = rig.timings["create"]
        try:
            guest, first, steps = self._serve(domain, "linux", LINUX_ADDRESS, quiet_s, 240)
            guest.read_until(xen_linux.READY, 30)  # its shell is next
            rps, errors = _load(rig, self.upy, LINUX_ADDRESS)
            p50, p99 = _echo(rig, guest, "micropython /bench/xen_echo.py\n")
            read = _read_mb_s(guest, "micropython /bench/xen_read.py\n")
        finally:
            domain.destroy()
            rig.sh("killall nc 2>/dev/null; true")
        return _run_row(first, create, rps, errors, p50, p99, read, steps)

    def serves_in(self, memory_mb: int) -> dict[str, Any]:
        """Does pyunik's httpd image answer HTTP with ``memory = memory_mb``?"""
        self.rig.wait_quiet()
        domain = self.rig.create(
            self.httpd,
            f"http-mem{memory_mb}",
            memory_mb=memory_mb,
            cmdline=f"ip={PYUNIK_ADDRESS}/{xenrig.RIG_PREFIX}",
            extra_config=[_vif(PYUNIK_MAC)],
        )
        try:
            _first_http(self.rig, self.upy, PYUNIK_ADDRESS, timeout_s=60)
            first = time.monotonic() - domain.create_called_at  # before the load, not after it
            rps, errors = _load(self.rig, self.upy, PYUNIK_ADDRESS)
            return {
                "memory_mib": memory_mb,
                "serves": True,
                "first_http_s": round(first, 2),
                "http_requests_s": round(rps, 1),
                "http_errors": errors,
            }
        except common.BenchError as exc:
            return {
                "memory_mib": memory_mb,
                "serves": False,
                "failure": str(exc)[-300:],
                "console": domain.console_log()[-400:],
            }
        finally:
            domain.destroy()


def _goal(ratio: float | None, target: float, higher_is_better: bool) -> dict[str, Any]:
    met = None if ratio is None else (ratio >= target if higher_is_better else ratio <= target)
    return {"target": target, "ratio": ratio, "met": met}


def measure(rig: XenRig, runs: int) -> dict[str, Any]:
    """Interleaved pyunik / Linux runs in a booted rig; see the module docstring."""
    sides = _Sides(rig)
    values: dict[str, list[dict[str, float]]] = {"pyunik": [], "linux": []}
    failed: dict[str, list[str]] = {"pyunik": [], "linux": []}
    load_before = os.getloadavg()[0]
    for i in range(runs):
        for side in ("pyunik", "linux"):
            try:
                values[side].append({"run": i, **(sides.pyunik(i) if side == "pyunik" else sides.linux(i))})
            except (common.BenchError, xenrig.XenRigError, TimeoutError) as exc:
                why = str(exc) if len(str(exc)) < 1200 else f"{str(exc)[:600]} [...] {str(exc)[-600:]}"
                failed[side].append(why)
                common.log(f"xen http run {i + 1}/{runs}, {side} failed: {why}")
        common.log(f"xen http run {i + 1}/{runs}: {values['pyunik'][-1:]} / {values['linux'][-1:]}")
    small = sides.serves_in(SMALL_MEMORY_MB)

    def median(side: str, key: str) -> float | None:
        found = sorted(run[key] for run in values[side] if run.get(key) == run.get(key))
        return round(found[len(found) // 2], 3) if found else None

    result: dict[str, Any] = {
        "what": "examples/httpd, TCP echo and blkfront read: pyunik's domU beside a Linux PVH domU (bench/xen_http.py)",
        "base": "a Linux PVH domU in the same rig: the rig's Debian kernel, the unix port, xen-netfront/-blkfront",
        "runs": runs,
        "host_load_1min": {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1)},
        "failed": failed,
        "pyunik": {k: median("pyunik", k) for k in KEYS},
        "linux": {k: median("linux", k) for k in KEYS},
        "http_errors": {side: sum(int(run["http_errors"]) for run in values[side]) for side in values},
        "linux_memory_mib": xen_linux.MEMORY_MB,
        "pyunik_memory_mib": 32,
        "pyunik_serves_in_small_memory": small,
        "steps_median": {side: {k: median(side, k) for k in STEP_KEYS} for side in values},
        # Run i of pyunik over run i of Linux: the runs were interleaved, so
        # each pair met about the same moment of the host.
        "create_to_http_ratio_per_run": [
            common.ratio(p["create_to_http_s"], q["create_to_http_s"])
            for p in values["pyunik"]
            for q in values["linux"]
            if p["run"] == q["run"]
        ],
        "values": values,
    }
    ratios = {
        k: common.ratio(result["pyunik"][k], result["linux"][k])
        for k in KEYS
        if result["pyunik"][k] is not None and result["linux"][k]
    }
    result["ratio_to_linux"] = ratios
    result["goals"] = {k: _goal(ratios.get(k), target, HIGHER_IS_BETTER.get(k, False)) for k, target in GOALS.items()}
    return result
