"""Xen device I/O in the rig: netfront and blkfront figures of a pyunik domU,
each beside a base measured in the same rig boot, interleaved run by run.

pyunik (the xen-pvh board: netfront + lwIP, blkfront +
littlefs at /, memory = 32; a vif on the rig's bridge, a littlefs data disk
and a raw disk) measures inside the domU with time.ticks_us():
- blkfront raw: blockdev.Disk(1, 4096), 4 MiB in 64 KiB requests (one
  indirect request each), written then synced, and read back;
- littlefs: one 1 MiB file written (write, close, os.sync) and read back;
  20 small files (512 B: open, write, close each, then one os.sync), and
  the 20 read back: files per second;
- TCP echo RTT to dom0 (busybox `nc -e cat`): 32 bytes, 100 round trips,
  p50 and p99;
- TCP bulk both ways, 2 MiB: dom0 -> domU (busybox nc into a socket the
  domU reads; first byte to last), domU -> dom0 (socket.write of the
  2 MiB, then close; lwIP's send buffer, a few KB, may still be in flight);
- ping RTT dom0 -> domU (lwIP answers): 100 pings 50 ms apart, p50 and p99.
The base is dom0 of the same rig (Linux 6.1, PV; its clock: /proc/uptime,
10 ms steps), NOT a guest: an upper bound for what this rig can move.
- disk: busybox dd on a loop device over the same kind of image in the same
  9p share, the path blkback itself serves from (so the ratio is what the
  ring, blkback and the domU's side cost), conv=fsync for the write, caches
  dropped before the read;
- TCP bulk: dom0 to itself (its bridge address: the kernel's loopback path,
  no Xen ring in between); one figure, the base of both directions;
- ping: dom0 to its bridge address (same caveat).
There is no base for the littlefs, small-file and echo figures (dom0's
kernel has no filesystem modules loaded and busybox no TCP round-trip
timer): they are reported alone. No Linux domU is booted (the rig has no
initramfs for one and its kernel's front ends are modules): a like-for-like
guest base is still to do.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from bench import common
from pyunik import board as boards
from pyunik import build, disk
from rigs import xenrig
from rigs.xenrig import XenRig

BOARD = "xen-pvh"
GUEST = "10.0.3.2"
RAW_MIB, FILE_MIB, NET_MIB = 4, 1, 2
SMALL_FILES, ECHOES, PINGS = 20, 100, 100
MAC = "00:16:3e:50:59:10"
ECHO_PORT, SINK_PORT, SOURCE_PORT = 7007, 7009, 7011

# The domU's side, sent as one exec() each (the REPL echoes it; the results
# are "NAME number..." lines, whose names the echo never shows followed by
# a digit). Every write's result is checked: a failed request is an error,
# not a fast run.
GUEST_DISK = f"""import blockdev, os, time
d = blockdev.Disk(1, 4096)
b = bytearray(65536)
n = {RAW_MIB} * 16
t = time.ticks_us()
bad = [r for r in (d.writeblocks(i * 16, b) for i in range(n)) if r] + [r for r in (d.ioctl(3, 0),) if r]
print('RAWW', time.ticks_diff(time.ticks_us(), t), len(bad))
t = time.ticks_us()
bad = [r for r in (d.readblocks(i * 16, b) for i in range(n)) if r]
print('RAWR', time.ticks_diff(time.ticks_us(), t), len(bad))
big = bytes(range(256)) * ({FILE_MIB} << 12)
t = time.ticks_us()
f = open('/big.bin', 'wb')
f.write(big)
f.close()
os.sync()
print('FILEW', time.ticks_diff(time.ticks_us(), t))
t = time.ticks_us()
f = open('/big.bin', 'rb')
x = f.read()
f.close()
print('FILER', time.ticks_diff(time.ticks_us(), t), int(x == big))
del big, x
small = bytes(range(256)) * 2
t = time.ticks_us()
for i in range({SMALL_FILES}):
    f = open('/s%d' % i, 'wb')
    f.write(small)
    f.close()
os.sync()
print('SMALLW', time.ticks_diff(time.ticks_us(), t))
t = time.ticks_us()
ok = 0
for i in range({SMALL_FILES}):
    f = open('/s%d' % i, 'rb')
    ok += f.read() == small
    f.close()
print('SMALLR', time.ticks_diff(time.ticks_us(), t), ok)
"""
# The same text runs on the unix port (bench/xen_http.py's Linux domU), whose
# connect() takes only getaddrinfo's address.
GUEST_ECHO = f"""import socket, time
s = socket.socket()
s.connect(socket.getaddrinfo('{xenrig.DOM0_ADDRESS}', {ECHO_PORT})[0][-1])
m = b'0123456789abcdef0123456789abcdef'
rtts = []
for i in range({ECHOES}):
    t = time.ticks_us()
    s.write(m)
    got = b''
    while len(got) < len(m):
        got += s.recv(len(m) - len(got))
    rtts.append(time.ticks_diff(time.ticks_us(), t))
s.close()
rtts.sort()
print('ECHO', rtts[len(rtts) // 2], rtts[-1 - len(rtts) // 100], int(got == m))
"""
GUEST_SINK = f"""import socket, time
s = socket.socket()
s.bind(('0.0.0.0', {SINK_PORT}))
s.listen(1)
print('LISTENING')
c, a = s.accept()
got = len(c.recv(4096))
t = time.ticks_us()
while got < {NET_MIB << 20}:
    n = len(c.recv(8192))
    if not n:
        break
    got += n
print('NETRX', time.ticks_diff(time.ticks_us(), t), got)
c.close()
s.close()
"""
GUEST_SOURCE = f"""import socket, time
s = socket.socket()
s.connect(('{xenrig.DOM0_ADDRESS}', {SOURCE_PORT}))
b = bytes(8192)
t = time.ticks_us()
for i in range({(NET_MIB << 20) // 8192}):
    s.write(b)
s.close()
print('NETTX', time.ticks_diff(time.ticks_us(), t))
"""
# dom0: ms of a command by /proc/uptime.
TIMED = (
    "t0=$(cut -d' ' -f1 /proc/uptime); {cmd}; t1=$(cut -d' ' -f1 /proc/uptime); "
    'echo "MS $(( (${{t1%.*}}${{t1#*.}} - ${{t0%.*}}${{t0#*.}}) * 10 ))"'
)


def _ms(out: str) -> float:
    found = re.findall(r"^MS (\d+)", out, re.M)
    if not found:
        raise common.BenchError(f"dom0 timing failed: {out[-300:]}")
    return float(found[-1])


def _percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 (nearest rank) of values; NaN when there are none."""
    if not values:
        return float("nan"), float("nan")
    ranked = sorted(values)
    return ranked[len(ranked) // 2], ranked[min(len(ranked) - 1, -(-99 * len(ranked) // 100) - 1)]


def _listen(rig: XenRig, port: int, server: str) -> None:
    """Start ``server`` (a busybox nc -l on ``port``) in dom0's background and
    wait until the port listens: under nested TCG the fork can lag, and a
    connect that comes first meets a RST. /proc/net/tcp{,6} list the port
    in hex; state 0A is LISTEN."""
    _, out = rig.sh(
        f"({server} &); for i in $(seq 100); do "
        f"grep -qs ':{port:04X} [0-9A-F]*:0000 0A' /proc/net/tcp /proc/net/tcp6 && echo listening && break; "
        "sleep 0.1; done",
        timeout=30,
    )
    if "listening" not in out:
        raise common.BenchError(f"dom0's {server!r} did not listen on {port}: {out}")


def _ping(rig: XenRig, address: str) -> tuple[float, float]:
    _, out = rig.sh(f"timeout 90 ping -c {PINGS} -i 0.05 -W 5 {address}", timeout=120)
    return _percentiles([float(t) for t in re.findall(r"time=([\d.]+) ms", out)])


class _Guest:
    """The domU's console (rig.serial): send a program, read its result lines."""

    def __init__(self, rig: XenRig, domain: xenrig.Domain) -> None:
        self.rig, self.domain, self.seen = rig, domain, b""

    def read_until(self, pattern: bytes, timeout: float) -> re.Match[bytes]:
        """The first match of pattern in what came since the last match. A
        pattern that ends in a number must end with the line's \\r\\n, or it
        matches the number's first digits while the rest is on its way."""
        port = self.rig.serial
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.seen)
            if found:
                self.seen = self.seen[found.end() :]
                return found
            if time.monotonic() > deadline:
                # What the domU wrote, from xenconsoled's own log in dom0: it
                # tells a silent domU from a console bridge that lost bytes.
                log = self.domain.console_log()[-400:]
                raise common.BenchError(
                    f"the domU did not print {pattern!r} in {timeout:.0f} s; serial: {self.seen[-200:]!r}; "
                    f"its console log in dom0: {log!r}"
                )
            self.seen += port.read(port.in_waiting or 1)

    def run(self, program: str, pattern: bytes, timeout: float) -> re.Match[bytes]:
        self.rig.serial.write(f"exec({program!r})\r".encode())
        return self.read_until(pattern, timeout)


def _pyunik_run(rig: XenRig, elf: Path, i: int) -> dict[str, float]:
    data, raw = rig.disks / f"bench-data-{i}.img", rig.disks / f"bench-raw-{i}.img"
    disk.create(data, "lfs", 8 << 20)
    raw.write_bytes(bytes(RAW_MIB << 20))
    vif = f"vif = ['mac={MAC},bridge={xenrig.RIG_BRIDGE},script=/etc/pyunik/vif-bridge']"
    rig.serial.reset_input_buffer()
    started = time.monotonic()
    domain = rig.create(
        elf,
        f"bench-io-{i}",
        cmdline=f"ip={GUEST}/{xenrig.RIG_PREFIX} gw={xenrig.DOM0_ADDRESS}",
        extra_config=[vif, rig.disk_config([data, raw])],
    )
    guest = _Guest(rig, domain)
    try:
        guest.read_until(b">>> ", 120)
        prompt_s = time.monotonic() - started
        found = guest.run(GUEST_DISK, rb"RAWW (\d+) (\d+)\r\n", 300)
        raw_w, raw_w_bad = float(found.group(1)), int(found.group(2))
        found = guest.read_until(rb"RAWR (\d+) (\d+)\r\n", 300)
        raw_r, raw_r_bad = float(found.group(1)), int(found.group(2))
        file_w = float(guest.read_until(rb"FILEW (\d+)\r\n", 300).group(1))
        found = guest.read_until(rb"FILER (\d+) (\d)\r\n", 300)
        file_r, file_ok = float(found.group(1)), found.group(2) == b"1"
        small_w = float(guest.read_until(rb"SMALLW (\d+)\r\n", 300).group(1))
        found = guest.read_until(rb"SMALLR (\d+) (\d+)\r\n", 300)
        small_r, small_ok = float(found.group(1)), int(found.group(2))
        if raw_w_bad or raw_r_bad or not file_ok or small_ok != SMALL_FILES:
            raise common.BenchError(
                f"disk I/O failed in the domU: {raw_w_bad} raw writes, {raw_r_bad} raw reads failed; "
                f"1 MiB file read back {'intact' if file_ok else 'wrong'}; {small_ok}/{SMALL_FILES} small files"
            )
        guest.read_until(b">>> ", 30)

        _listen(rig, ECHO_PORT, f"timeout 150 nc -l -p {ECHO_PORT} -e cat >/dev/null 2>&1")
        found = guest.run(GUEST_ECHO, rb"ECHO (\d+) (\d+) (\d)\r\n", 120)
        echo_p50, echo_p99 = float(found.group(1)) / 1000, float(found.group(2)) / 1000
        guest.read_until(b">>> ", 30)

        rig.serial.write(f"exec({GUEST_SINK!r})\r".encode())
        guest.read_until(rb"LISTENING\r\n", 60)
        rig.sh(f"dd if=/dev/zero bs=65536 count={NET_MIB * 16} 2>/dev/null | timeout 120 nc {GUEST} {SINK_PORT}", 180)
        found = guest.read_until(rb"NETRX (\d+) (\d+)\r\n", 120)
        net_rx, got = float(found.group(1)), int(found.group(2))
        if got < NET_MIB << 20:
            raise common.BenchError(f"TCP dom0 -> domU: {got} of {NET_MIB << 20} bytes arrived")
        guest.read_until(b">>> ", 30)

        # nc's stdin must stay open: the rig runs commands with stdin from
        # /dev/null, and at its EOF busybox nc sends FIN right after accept
        # (the domU's connect then ended in a closed connection).
        _listen(
            rig,
            SOURCE_PORT,
            f"timeout 150 sleep 150 | timeout 150 nc -l -p {SOURCE_PORT} >/run/bench-sink.out 2>/dev/null",
        )
        net_tx = float(guest.run(GUEST_SOURCE, rb"NETTX (\d+)\r\n", 180).group(1))
        _, size = rig.sh("sleep 1; wc -c </run/bench-sink.out; rm -f /run/bench-sink.out")
        if int(size.split()[-1]) != NET_MIB << 20:
            raise common.BenchError(f"TCP domU -> dom0: dom0 received {size.strip()} of {NET_MIB << 20} bytes")
        guest.read_until(b">>> ", 30)

        ping_p50, ping_p99 = _ping(rig, GUEST)
    finally:
        domain.destroy()
        rig.sh("killall nc 2>/dev/null; true")
    return {
        "create_to_prompt_s": prompt_s,
        "raw_write_mb_s": RAW_MIB / (raw_w / 1e6),
        "raw_read_mb_s": RAW_MIB / (raw_r / 1e6),
        "file_write_mb_s": FILE_MIB / (file_w / 1e6),
        "file_read_mb_s": FILE_MIB / (file_r / 1e6),
        "small_write_files_s": SMALL_FILES / (small_w / 1e6),
        "small_read_files_s": SMALL_FILES / (small_r / 1e6),
        "tcp_echo_p50_ms": echo_p50,
        "tcp_echo_p99_ms": echo_p99,
        "tcp_in_mb_s": NET_MIB / (net_rx / 1e6),
        "tcp_out_mb_s": NET_MIB / (net_tx / 1e6),
        "ping_p50_ms": ping_p50,
        "ping_p99_ms": ping_p99,
    }


def _dom0_run(rig: XenRig) -> dict[str, float]:
    raw = rig.disks / "bench-base.img"
    raw.write_bytes(bytes(RAW_MIB << 20))
    status, loop = rig.sh(f"losetup -f /mnt/disks/{raw.name} && losetup -a | grep ' /mnt/disks/{raw.name}$'")
    loop = loop.split(":")[0].split()[-1] if status == 0 and loop.strip() else ""
    if not loop.startswith("/dev/loop"):
        raise common.BenchError(f"no loop device in dom0: {loop}")
    try:
        count = RAW_MIB * 16
        write = f"dd if=/dev/zero of={loop} bs=65536 count={count} conv=fsync 2>/dev/null"
        read = f"echo 3 >/proc/sys/vm/drop_caches; dd if={loop} of=/dev/null bs=65536 2>/dev/null"
        w = _ms(rig.sh(TIMED.format(cmd=write))[1])
        r = _ms(rig.sh(TIMED.format(cmd=read))[1])
    finally:
        rig.sh(f"losetup -d {loop}")
    dom0 = xenrig.DOM0_ADDRESS
    _listen(rig, SINK_PORT, f"timeout 60 nc -l -p {SINK_PORT} >/dev/null")
    send = f"dd if=/dev/zero bs=65536 count={NET_MIB * 16} 2>/dev/null | timeout 60 nc {dom0} {SINK_PORT}"
    tcp = _ms(rig.sh(TIMED.format(cmd=send))[1])
    ping_p50, ping_p99 = _ping(rig, dom0)
    # Its 10 ms clock: a run under one tick is counted as one tick.
    return {
        "raw_write_mb_s": RAW_MIB / (max(w, 10) / 1000),
        "raw_read_mb_s": RAW_MIB / (max(r, 10) / 1000),
        "tcp_in_mb_s": NET_MIB / (max(tcp, 10) / 1000),
        "tcp_out_mb_s": NET_MIB / (max(tcp, 10) / 1000),
        "ping_p50_ms": ping_p50,
        "ping_p99_ms": ping_p99,
    }


KEYS = (
    "create_to_prompt_s",
    "raw_write_mb_s",
    "raw_read_mb_s",
    "file_write_mb_s",
    "file_read_mb_s",
    "small_write_files_s",
    "small_read_files_s",
    "tcp_echo_p50_ms",
    "tcp_echo_p99_ms",
    "tcp_in_mb_s",
    "tcp_out_mb_s",
    "ping_p50_ms",
    "ping_p99_ms",
)


def measure(rig: XenRig, runs: int) -> dict[str, Any]:
    """Interleaved: pyunik, dom0, pyunik, dom0 ...; failures counted with their reason."""
    elf = build.build(boards.load(BOARD)).elf
    sides: dict[str, list[dict[str, float]]] = {"pyunik": [], "dom0": []}
    failed: dict[str, list[str]] = {"pyunik": [], "dom0": []}
    load_before = os.getloadavg()[0]
    for i in range(runs):
        for side in ("pyunik", "dom0"):
            try:
                sides[side].append(_pyunik_run(rig, elf, i) if side == "pyunik" else _dom0_run(rig))
            except (common.BenchError, xenrig.XenRigError, TimeoutError) as exc:
                why = str(exc) if len(str(exc)) < 1200 else f"{str(exc)[:600]} [...] {str(exc)[-600:]}"
                failed[side].append(why)
                common.log(f"xen io run {i + 1}/{runs}, {side} failed: {why}")
        common.log(f"xen io run {i + 1}/{runs}: {sides['pyunik'][-1:]} / {sides['dom0'][-1:]}")

    def median(side: str, key: str) -> float | None:
        values = [run[key] for run in sides[side] if key in run and run[key] == run[key]]  # NaN: no reply
        return round(sorted(values)[len(values) // 2], 3) if values else None

    result: dict[str, Any] = {
        "what": "blkfront and netfront of a pyunik domU beside dom0 in the same rig (see bench/xen_io.py)",
        "base": "dom0 of the same rig (Linux 6.1 PV): an upper bound for the rig, not a guest",
        "runs": runs,
        "host_load_1min": {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1)},
        "failed": failed,
        "pyunik": {k: median("pyunik", k) for k in KEYS},
        "dom0": {k: median("dom0", k) for k in KEYS},
        "values": sides,
    }
    result["ratio_to_dom0"] = {
        k: common.ratio(result["pyunik"][k], result["dom0"][k])
        for k in KEYS
        if result["pyunik"][k] is not None and result["dom0"][k]
    }
    return result
