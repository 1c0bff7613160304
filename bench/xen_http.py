"""pyunik's domU beside a Linux PVH domU in the Xen rig: the goals of issue 17.

`invoke bench --only xen` runs this after bench/xen.py's boot figures, in the
same rig boot. Both domUs are PVH, on the rig's bridge (one vif each), with
the same two disks (a littlefs image as xvda, a raw 8 MiB image as xvdb),
and run the same app: examples/httpd (pyunik: frozen into the xen-pvh
image; Linux: the unix port, bench/xen_linux.py). Run by run, interleaved
(pyunik, Linux, pyunik, ...); a run that fails is counted with its reason:

- create -> first HTTP response: from the host's call of ``xl create`` (the
  rig's create: create paused, console bridged, unpause; the same for both)
  until dom0's busybox wget, tried every 50 ms, gets the page; and, as
  xl_create_s, that create's own part (xl reads the kernel from the rig's
  9p share and builds the domain: Linux's vmlinux is 66 MB, pyunik's 3 MB);
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
import time
from pathlib import Path
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
KEYS = ("create_to_http_s", "xl_create_s", "http_requests_s", "tcp_echo_p50_ms", "tcp_echo_p99_ms", "blk_seq_read_mb_s")
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


def _first_http(rig: XenRig, address: str, timeout_s: int = 120) -> None:
    """Until dom0 gets the page from ``address`` (wget every 50 ms, bounded)."""
    tries = timeout_s * 10
    status, out = rig.sh(
        f"i=0; until timeout 2 wget -q -O /dev/null http://{address}/ 2>/dev/null; do "
        f"i=$((i + 1)); [ $i -lt {tries} ] || {{ echo never; exit 1; }}; sleep 0.05; done; echo served",
        timeout=timeout_s * 3,
    )
    if status or "served" not in out:
        raise common.BenchError(f"dom0 got no HTTP response from {address}: {out[-300:]}")


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
    first: float, create: float, rps: float, errors: float, p50: float, p99: float, read: float
) -> dict[str, float]:
    """One run's figures, under the same keys for both sides."""
    return {
        "create_to_http_s": first,
        "xl_create_s": create,
        "http_requests_s": rps,
        "http_errors": errors,
        "tcp_echo_p50_ms": p50,
        "tcp_echo_p99_ms": p99,
        "blk_seq_read_mb_s": read,
    }


class _Sides:
    """What each side boots: pyunik's two images, Linux's kernel + initramfs, dom0's client."""

    def __init__(self, rig: XenRig) -> None:
        self.rig = rig
        self.httpd = build.build(boards.load(BOARD), app=build.App.load(common.ROOT / "examples" / "httpd")).elf
        self.repl = build.build(boards.load(BOARD)).elf
        self.initramfs = xen_linux.initramfs(rig, {"xen_echo.py": xen_io.GUEST_ECHO, "xen_read.py": READ_LINUX})
        self.upy = xen_linux.dom0_micropython(rig)
        client = Path(__file__).parent / "xen_httpload.py"
        (rig.share / "dom0-upy" / client.name).write_bytes(client.read_bytes())

    def pyunik(self, i: int) -> dict[str, float]:
        rig = self.rig
        cmdline = f"ip={PYUNIK_ADDRESS}/{xenrig.RIG_PREFIX}"
        rig.serial.reset_input_buffer()
        started = time.monotonic()
        domain = rig.create(
            self.httpd, f"http-pyunik-{i}", cmdline=cmdline, extra_config=[_vif(PYUNIK_MAC), _disks(rig, f"p{i}")]
        )
        create = rig.timings["create"]
        try:
            _first_http(rig, PYUNIK_ADDRESS)
            first = time.monotonic() - started
            rps, errors = _load(rig, self.upy, PYUNIK_ADDRESS)
        finally:
            domain.destroy()
        domain = rig.create(
            self.repl, f"io-pyunik-{i}", cmdline=cmdline, extra_config=[_vif(PYUNIK_MAC), _disks(rig, f"p{i}")]
        )
        guest = xen_io._Guest(rig, domain)
        try:
            guest.read_until(b">>> ", 120)
            p50, p99 = _echo(rig, guest, f"exec({xen_io.GUEST_ECHO!r})\r")
            guest.read_until(b">>> ", 30)
            read = _read_mb_s(guest, f"exec({READ_PYUNIK!r})\r")
        finally:
            domain.destroy()
            rig.sh("killall nc 2>/dev/null; true")
        return _run_row(first, create, rps, errors, p50, p99, read)

    def linux(self, i: int) -> dict[str, float]:
        rig = self.rig
        rig.serial.reset_input_buffer()
        started = time.monotonic()
        domain = xen_linux.create(
            rig,
            f"http-linux-{i}",
            self.initramfs,
            f"{LINUX_ADDRESS}/{xenrig.RIG_PREFIX}",
            [_vif(LINUX_MAC), _disks(rig, f"l{i}")],
        )
        create = rig.timings["create"]
        guest = xen_io._Guest(rig, domain)
        try:
            _first_http(rig, LINUX_ADDRESS, timeout_s=240)
            first = time.monotonic() - started
            guest.read_until(xen_linux.READY, 30)  # its shell is next
            rps, errors = _load(rig, self.upy, LINUX_ADDRESS)
            p50, p99 = _echo(rig, guest, "micropython /bench/xen_echo.py\n")
            read = _read_mb_s(guest, "micropython /bench/xen_read.py\n")
        finally:
            domain.destroy()
            rig.sh("killall nc 2>/dev/null; true")
        return _run_row(first, create, rps, errors, p50, p99, read)

    def serves_in(self, memory_mb: int) -> dict[str, Any]:
        """Does pyunik's httpd image answer HTTP with ``memory = memory_mb``?"""
        started = time.monotonic()
        domain = self.rig.create(
            self.httpd,
            f"http-mem{memory_mb}",
            memory_mb=memory_mb,
            cmdline=f"ip={PYUNIK_ADDRESS}/{xenrig.RIG_PREFIX}",
            extra_config=[_vif(PYUNIK_MAC)],
        )
        try:
            _first_http(self.rig, PYUNIK_ADDRESS, timeout_s=60)
            rps, errors = _load(self.rig, self.upy, PYUNIK_ADDRESS)
            return {
                "memory_mib": memory_mb,
                "serves": True,
                "first_http_s": round(time.monotonic() - started, 2),
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
                values[side].append(sides.pyunik(i) if side == "pyunik" else sides.linux(i))
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
