"""Xen device I/O in the rig: netfront and blkfront figures of a pyunik domU,
each beside a base measured in the same rig boot, interleaved run by run.

pyunik (tests/xen/boards/xen-pvh-net-disk: netfront + blkfront + littlefs,
memory = 32) measures inside the domU with time.ticks_ms():
- blkfront raw: blockdev.Disk(1, 4096), 4 MiB in 64 KiB requests (one
  indirect request each), written then synced, and read back;
- littlefs: one 1 MiB file written (write, close, os.sync) and read;
- TCP bulk dom0 -> domU: 2 MiB from busybox nc into a socket the domU reads
  (first byte to last);
- ping RTT dom0 -> domU (lwIP answers; 20 pings, 0.2 s apart).
The bases, in dom0 of the same rig (its clock: /proc/uptime, 10 ms steps):
- disk: busybox dd on a loop device over the same kind of image in the same
  9p share, the path blkback itself serves from (so the ratio is what the
  ring, blkback and the domU's side cost), conv=fsync for the write,
  caches dropped before the read;
- TCP bulk: dom0 to itself over its bridge address (the kernel's own TCP
  with no Xen ring in between: an upper bound for the rig, not a guest);
- ping: dom0 to its bridge address (same caveat).
No Linux domU is booted: the rig has no initramfs for one (its kernel's
front ends are modules), so there is no like-for-like guest base yet.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from bench import common
from pyunik import board as boards
from pyunik import build, disk, xenrig
from pyunik.xenrig import XenRig

BOARD_FILE = boards.ROOT / "tests" / "xen" / "boards" / "xen-pvh-net-disk" / "board.toml"
GUEST = "10.0.3.2"
RAW_MIB, FILE_MIB, NET_MIB = 4, 1, 2
MAC = "00:16:3e:50:59:10"

# Runs in the domU (the REPL, one line each): prints "NAME MS" lines.
GUEST_DISK = (
    "import blockdev, os, time; d = blockdev.Disk(1, 4096); b = bytearray(65536); n = {raw} * 16; "
    "t = time.ticks_ms(); [d.writeblocks(i * 16, b) for i in range(n)]; d.ioctl(3, 0); "
    "print('RAWW', time.ticks_diff(time.ticks_ms(), t)); "
    "t = time.ticks_ms(); [d.readblocks(i * 16, b) for i in range(n)]; "
    "print('RAWR', time.ticks_diff(time.ticks_ms(), t)); big = bytes({file} << 20); "
    "t = time.ticks_ms(); f = open('/big.bin', 'wb'); f.write(big); f.close(); os.sync(); "
    "print('FILEW', time.ticks_diff(time.ticks_ms(), t)); "
    "t = time.ticks_ms(); f = open('/big.bin', 'rb'); x = f.read(); f.close(); "
    "print('FILER', time.ticks_diff(time.ticks_ms(), t), len(x)); del big, x\r"
)
GUEST_NET = (
    "import socket; s = socket.socket(); s.bind(('0.0.0.0', 9)); s.listen(1); c, a = s.accept(); "
    "got = len(c.recv(4096)); t = time.ticks_ms()\r"
    "while got < {size}: got += len(c.recv(8192))\r\r"
    "print('NETRX', time.ticks_diff(time.ticks_ms(), t), got); c.send(b'ok'); c.close(); s.close()\r"
)
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


def _read_until(rig: XenRig, pattern: bytes, timeout: float) -> re.Match[bytes]:
    port = rig.serial
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, data)
        if found:
            return found
        if time.monotonic() > deadline:
            raise common.BenchError(f"the domU did not print {pattern!r}: {data[-300:]!r}")
        data += port.read(port.in_waiting or 1)


def _pyunik_run(rig: XenRig, elf: Path, i: int) -> dict[str, float]:
    data, raw = rig.disks / "bench-data.img", rig.disks / "bench-raw.img"
    disk.create(data, "lfs", 8 << 20)
    raw.write_bytes(bytes(RAW_MIB << 20))
    vif = f"vif = ['mac={MAC},bridge={xenrig.RIG_BRIDGE},script=/etc/pyunik/vif-bridge']"
    rig.serial.reset_input_buffer()
    domain = rig.create(
        elf,
        f"bench-io-{i}",
        cmdline=f"ip={GUEST}/{xenrig.RIG_PREFIX} gw={xenrig.DOM0_ADDRESS}",
        extra_config=[vif, rig.disk_config([data, raw])],
    )
    try:
        _read_until(rig, b">>> ", 90)
        rig.serial.write(GUEST_DISK.format(raw=RAW_MIB, file=FILE_MIB).encode())
        found = _read_until(rig, rb"RAWW (\d+)[\s\S]*RAWR (\d+)[\s\S]*FILEW (\d+)[\s\S]*FILER (\d+)", 600)
        raw_w, raw_r, file_w, file_r = (float(found.group(k)) for k in range(1, 5))
        rig.serial.write(GUEST_NET.format(size=NET_MIB << 20).encode())
        time.sleep(1)
        rig.sh(f"dd if=/dev/zero bs=65536 count={NET_MIB * 16} 2>/dev/null | nc -w 60 {GUEST} 9", timeout=180)
        net = _read_until(rig, rb"NETRX (\d+) (\d+)", 120)
        _, ping = rig.sh(f"ping -c 20 -i 0.2 {GUEST}", timeout=60)
    finally:
        domain.destroy()
    rtts = sorted(float(t) for t in re.findall(r"time=([\d.]+) ms", ping))
    return {
        "raw_write_mb_s": RAW_MIB / (raw_w / 1000),
        "raw_read_mb_s": RAW_MIB / (raw_r / 1000),
        "file_write_mb_s": FILE_MIB / (file_w / 1000),
        "file_read_mb_s": FILE_MIB / (file_r / 1000),
        "tcp_in_mb_s": NET_MIB / (max(float(net.group(1)), 1) / 1000),
        "ping_p50_ms": rtts[len(rtts) // 2] if rtts else float("nan"),
    }


def _dom0_run(rig: XenRig) -> dict[str, float]:
    raw = rig.disks / "bench-base.img"
    raw.write_bytes(bytes(RAW_MIB << 20))
    status, dev = rig.sh(f"losetup -f && losetup $(losetup -f) /mnt/disks/{raw.name} && losetup -a | grep {raw.name}")
    loop = dev.split(":")[0].split()[-1] if status == 0 else ""
    if not loop.startswith("/dev/loop"):
        raise common.BenchError(f"no loop device in dom0: {dev}")
    try:
        count = RAW_MIB * 16
        write = f"dd if=/dev/zero of={loop} bs=65536 count={count} conv=fsync 2>/dev/null"
        read = f"echo 3 >/proc/sys/vm/drop_caches; dd if={loop} of=/dev/null bs=65536 2>/dev/null"
        w = _ms(rig.sh(TIMED.format(cmd=write))[1])
        r = _ms(rig.sh(TIMED.format(cmd=read))[1])
    finally:
        rig.sh(f"losetup -d {loop}")
    dom0 = xenrig.DOM0_ADDRESS
    rig.sh("(nc -l -p 9 >/dev/null &) ; sleep 0.3")
    send = f"dd if=/dev/zero bs=65536 count={NET_MIB * 16} 2>/dev/null | nc -w 5 {dom0} 9"
    tcp = _ms(rig.sh(TIMED.format(cmd=send))[1])
    _, ping = rig.sh(f"ping -c 20 -i 0.2 {dom0}", timeout=60)
    rtts = sorted(float(t) for t in re.findall(r"time=([\d.]+) ms", ping))
    return {
        "raw_write_mb_s": RAW_MIB / (max(w, 10) / 1000),
        "raw_read_mb_s": RAW_MIB / (max(r, 10) / 1000),
        "tcp_in_mb_s": NET_MIB / (max(tcp, 10) / 1000),
        "ping_p50_ms": rtts[len(rtts) // 2] if rtts else float("nan"),
    }


def measure(rig: XenRig, runs: int) -> dict[str, Any]:
    """Interleaved: pyunik, dom0, pyunik, dom0 ...; failures counted."""
    elf = build.build(boards.load(BOARD_FILE)).elf
    sides: dict[str, list[dict[str, float]]] = {"pyunik": [], "dom0": []}
    failed: dict[str, list[str]] = {"pyunik": [], "dom0": []}
    for i in range(runs):
        for side in ("pyunik", "dom0"):
            try:
                sides[side].append(_pyunik_run(rig, elf, i) if side == "pyunik" else _dom0_run(rig))
            except (common.BenchError, xenrig.XenRigError) as exc:
                failed[side].append(str(exc)[-300:])
        common.log(f"xen io run {i + 1}/{runs}: {sides['pyunik'][-1:]} / {sides['dom0'][-1:]}")

    def median(side: str, key: str) -> float | None:
        values = [run[key] for run in sides[side] if key in run]
        return round(sorted(values)[len(values) // 2], 3) if values else None

    keys = ("raw_write_mb_s", "raw_read_mb_s", "file_write_mb_s", "file_read_mb_s", "tcp_in_mb_s", "ping_p50_ms")
    result: dict[str, Any] = {
        "what": "blkfront and netfront of a pyunik domU beside dom0 in the same rig (see bench/xen_io.py)",
        "runs": runs,
        "failed": failed,
        "pyunik": {k: median("pyunik", k) for k in keys},
        "dom0": {k: median("dom0", k) for k in keys},
        "values": sides,
    }
    result["ratio_to_dom0"] = {
        k: common.ratio(result["pyunik"][k], result["dom0"][k])
        for k in keys
        if result["pyunik"][k] is not None and result["dom0"][k]
    }
    return result
