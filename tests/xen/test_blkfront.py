"""Xen's blkfront on the rig: littlefs images in the rig's disk share
(XenRig.disks) served by dom0's blkback over loop devices, read and written
by the domU through the same blockdev layer and storage plugin as virtio-blk,
and read and written on the host with littlefs-python (pyunik/disk.py)."""

from __future__ import annotations

import os
import random
import re
import statistics
import time
from collections.abc import Callable

import pytest
from test_netfront import GUEST  # tests/xen is on sys.path (rootdir-relative imports)
from test_pyunik_on_xen import Console, expect_prompt

from pyunik import board as boards
from pyunik import build, disk
from rigs.xenrig import Domain, XenRig

POWER_CUTS = int(os.environ.get("PYUNIK_XEN_POWERCUTS", "4"))
PATTERN = bytes(range(256)) * 256  # 64 KiB: more than 11 segments, so an indirect request
#: The power-cut loop: numbered files, each closed and synced, then acknowledged.
WRITER = (
    b"exec(\"import os\\ni = FIRST\\nwhile True:\\n    data = (b'%06d' % i) * (1 + i % 300)\\n"
    b"    with open('/f%06d' % i, 'wb') as f:\\n        f.write(data)\\n    os.sync()\\n"
    b"    print('ACK', i)\\n    i += 1\\n\")\r"
)


@pytest.fixture(scope="session")
def disk_image() -> build.Image:
    return build.build(boards.load("xen-pvh-disk"))


def wait_released(rig: XenRig, domain: Domain) -> None:
    """After ``xl destroy``: blkback has let go of the image (its hotplug
    script detached the loop device), so the host reads what it wrote."""
    domain.destroy()
    _, out = rig.sh(
        "i=0; while losetup -a | grep -q /mnt/disks && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; losetup -a"
    )
    assert "/mnt/disks" not in out, f"a loop device still holds an image: {out}"


def test_files_cross_both_ways_and_survive_restart(xen_rig: XenRig, disk_image: build.Image, dut) -> None:  # type: ignore[no-untyped-def]
    data = xen_rig.disks / "data.img"
    raw = xen_rig.disks / "raw.img"
    disk.create(data, "lfs", 2 << 20)
    disk.write(data, "/host.txt", b"written on the host")
    raw.write_bytes(bytes(1 << 20))
    console = Console(dut)

    domain = xen_rig.create(disk_image.elf, "pyunik-blk", extra_config=[xen_rig.disk_config([data, raw])])
    expect_prompt(domain, dut)
    out = console.run("import os, blockdev; print(blockdev.count(), blockdev.Disk(1), open('/host.txt').read())")
    assert "2 <Disk xen-blkfront device/vbd/51728, 2048 sectors, block size 512> written on the host" in out, out
    out = console.run(
        "f = open('/guest.txt', 'w'); n = f.write('written in the domU'); f.close(); "
        "big = bytes(range(251)) * 1000; f = open('/big.bin', 'wb'); n = f.write(big); f.close(); "
        "os.sync(); print('ok')"
    )
    assert out.strip() == "ok", out
    # The raw disk: 64 KiB at 4 KiB block 16 (one indirect request), 512
    # bytes at an offset, sync (a FLUSH_DISKCACHE), read back.
    out = console.run(
        "d = blockdev.Disk(1, 4096); b = bytes(range(256)) * 256; r = bytearray(len(b)); "
        "print(d.writeblocks(16, b), d.writeblocks(0, b'\\xab' * 512, 512), d.ioctl(3, 0), "
        "d.readblocks(16, r), r == b, d.writeblocks(0, b'x' * 100), d.ioctl(4, 0))"
    )
    assert out.strip() == "0 0 0 0 True -22 256", out
    wait_released(xen_rig, domain)

    image = raw.read_bytes()
    assert image[16 * 4096 : 16 * 4096 + len(PATTERN)] == PATTERN
    assert image[512:1024] == b"\xab" * 512 and image[:512] == bytes(512)
    assert disk.read(data, "/guest.txt") == b"written in the domU"
    assert disk.read(data, "/big.bin") == bytes(range(251)) * 1000
    disk.write(data, "/host2.txt", b"second host write")

    # A new domain on the same images: what both sides wrote is there.
    domain = xen_rig.create(disk_image.elf, "pyunik-blk2", extra_config=[xen_rig.disk_config([data, raw])])
    expect_prompt(domain, dut, "on the images written before")
    out = console.run(
        "import os; print(sorted(os.listdir('/')), open('/guest.txt').read(), open('/host2.txt').read(), "
        "open('/big.bin', 'rb').read() == bytes(range(251)) * 1000)"
    )
    assert "['big.bin', 'guest.txt', 'host.txt', 'host2.txt', 'rom'] written in the domU second host write True" in out
    wait_released(xen_rig, domain)


def test_power_cuts_lose_no_acknowledged_file(xen_rig: XenRig, disk_image: build.Image, dut) -> None:  # type: ignore[no-untyped-def]
    """``xl destroy`` at random moments while the domU writes, closes and
    syncs numbered files: every file it acknowledged is complete."""
    img = xen_rig.disks / "cuts.img"
    # 8 MiB: with 16 KiB littlefs blocks a 2 MiB disk (128 blocks) could fill
    # during the cuts, and a full disk acknowledges nothing (seen once: no ACK
    # within 60 s after the third cut), as the HIL power-cut tests found too.
    disk.create(img, "lfs", 8 << 20)
    rng = random.Random(int(time.time()))
    console = Console(dut)
    acked: set[int] = set()
    next_id = 0
    for cut in range(POWER_CUTS):
        domain = xen_rig.create(disk_image.elf, f"pyunik-cut{cut}", extra_config=[xen_rig.disk_config([img])])
        expect_prompt(domain, dut, f"after {cut} power cuts")
        console.keys(WRITER.replace(b"FIRST", str(next_id).encode()))
        # At least one acknowledgement, then a cut at a random moment.
        acked.add(int(dut.expect(rb"ACK (\d+)\r\n", timeout=60).group(1)))
        time.sleep(rng.uniform(0.0, 2.0))
        xen_rig.sh(f"xl destroy {domain.name}")
        # What the console holds: the acknowledgements up to the cut.
        while True:
            try:
                acked.add(int(dut.expect(rb"ACK (\d+)\r\n", timeout=2).group(1)))
            except Exception:  # pexpect's TIMEOUT: nothing more comes
                break
        wait_released(xen_rig, domain)
        next_id = max(acked, default=-1) + 1000  # never rewrite a name an unacknowledged write may hold
    files = disk.read_all(img)  # one mount: the image must mount at all
    lost = [i for i in sorted(acked) if files.get(f"/f{i:06d}") != f"{i:06d}".encode() * (1 + i % 300)]
    print(f"blkfront: {POWER_CUTS} xl destroys, {len(acked)} files acknowledged, {len(lost)} lost")
    assert len(acked) >= POWER_CUTS  # the loop made progress: the test can fail
    assert not lost, lost


# The fake backends: xenstore nodes dom0 writes for vbds that no blkback
# serves, each misbehaving its own way once the domU's front end is
# Initialised. Frontend nodes belong to the domU, backend nodes to dom0.
FAKE_BACKENDS = r"""
D=$(xl domid {name}); FD=/local/domain/$D/device/vbd
for v in 51712 51728 51744; do
    F=$FD/$v; B=/local/domain/0/backend/vbd/$D/$v
    xenstore-write $F/backend $B $F/backend-id 0 $F/virtual-device $v $F/state 1
    xenstore-write $B/frontend $F $B/frontend-id $D $B/state 2
    xenstore-chmod -r $F n$D r0; xenstore-chmod -r $B n0 r$D
done
xenstore-chmod $FD n$D r0
initialised() {{
    i=0; while [ "$(xenstore-read $FD/$1/state)" != 3 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
}}
B=/local/domain/0/backend/vbd/$D
( initialised 51712; xenstore-write $B/51712/sectors 8192 $B/51712/sector-size 1000 $B/51712/state 4
  initialised 51728; xenstore-write $B/51728/state 5 ) >/dev/null 2>&1 &
"""


def test_bad_backends_give_one_line_each(xen_rig: XenRig, disk_image: build.Image, dut) -> None:  # type: ignore[no-untyped-def]
    """A bogus sector-size, a backend that goes Closing instead of
    Connected, one that never connects: a line each, the domU boots on
    (no disk, the storage plugin says so), nothing hangs."""

    def play_backends(domain: Domain) -> None:
        status, out = xen_rig.sh(FAKE_BACKENDS.format(name=domain.name))
        assert status == 0, out

    domain = xen_rig.create(disk_image.elf, "pyunik-badblk", before_unpause=play_backends)
    domid = domain.domid
    try:
        boot = dut.expect(rb"([\s\S]*?)>>> ", timeout=90).group(1).decode(errors="replace")
        assert "xen-blkfront device/vbd/51712: backend gives sector-size 1000" in boot, boot
        assert "xen-blkfront device/vbd/51728: backend did not connect (state 5)" in boot, boot
        assert "xen-blkfront device/vbd/51744: backend did not connect (state 2)" in boot, boot
        assert "storage: no disk 0 to mount" in boot, boot
        out = Console(dut).run("import blockdev; print(blockdev.count(), 6 * 7)")
        assert out.strip() == "0 42", out
        # The front end with the bogus geometry said it is closing.
        _, state = xen_rig.sh(f"xenstore-read /local/domain/{domid}/device/vbd/51712/state")
        assert state.strip() == "5", state
    finally:
        domain.destroy()
        # libxl removes only the backends it made: these are the test's to
        # remove, or dom0 keeps them (XenRig.wait_quiet then never returns:
        # CI saw "busy: backends" in a later test).
        xen_rig.sh(f"xenstore-rm /local/domain/0/backend/vbd/{domid}; true")


def test_network_answers_during_a_long_disk_write(
    xen_rig: XenRig,
    net_disk_domu: Callable[[str, str, int], Domain],
    dut,  # type: ignore[no-untyped-def]
) -> None:
    """While an f.write() of 1 MiB runs (no Python runs until it returns),
    the block layer's wait runs the network's poll: lwIP answers dom0's
    pings during the writes, not after them. Writes of 1 MiB go on for at
    least 3 s (at most 24 MiB): with the block cache and 16 KiB littlefs
    blocks one MiB takes ~0.2 s on the rig, too short for pings at 0.2 s."""
    domain = net_disk_domu("pyunik-netdisk", "00:16:3e:50:59:03", 32 << 20)
    console = Console(dut)
    console.run("import socket, time, os, blockdev; big = bytes(1 << 20); s = socket.socket(); "
                "s.bind(('0.0.0.0', 7)); s.listen(1)")  # fmt: skip
    # The domU waits for dom0's connection, writes, then closes it.
    console.keys(
        b"c, a = s.accept(); t = time.ticks_ms(); f = open('/big.bin', 'wb'); n = 0; "
        b"exec('while n < 24 and time.ticks_diff(time.ticks_ms(), t) < 3000: n += f.write(big) >> 20'); "
        b"f.close(); t = time.ticks_diff(time.ticks_ms(), t); c.close(); print('WROTE', t, blockdev.stats(), n)\r"
    )
    _, out = xen_rig.sh(
        f"ping -i 0.2 {GUEST} >/tmp/ping.txt 2>&1 & p=$!; sleep 0.5; nc -w 120 {GUEST} 7 </dev/null; "
        "kill $p; cat /tmp/ping.txt",
        timeout=180,
    )
    found = dut.expect(rb"WROTE (\d+) \((\d+), (\d+)\)", timeout=180)
    write_ms, polls = int(found.group(1)), int(found.group(3))
    rtts = [float(t) for t in re.findall(r"time=([\d.]+) ms", out)]
    print(f"1 MiB writes: {write_ms} ms, {polls} device polls while waiting; ping RTTs (ms): {rtts}")
    assert write_ms >= 1000, f"the write took {write_ms} ms: too short to show anything"
    assert polls > 0
    # Answered during the write: an RTT far below the write's duration (an
    # echo request queued behind the write would wait for most of it).
    quick = [t for t in rtts if t < write_ms / 5]
    assert len(quick) >= 3, (write_ms, rtts)
    assert statistics.median(rtts) < write_ms / 5, (write_ms, rtts)
    domain.destroy()
