"""Files on virtio-blk disks: littlefs and FAT through MicroPython's VFS.

Each test makes its disk image on the host (pyunik.disk: littlefs-python,
mtools), boots the disk board with it, works in the guest over the raw
REPL, and checks the image on the host again.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import oldlfs
import pytest
import serial
from conftest import Guest, boot

from pyunik import disk

BOARDS = ("qemu-microvm-disk", "qemu-q35-disk")
BOARD = BOARDS[0]


class Console:
    """The guest's console: wait for text, run code in the raw REPL."""

    def __init__(self, port: serial.Serial) -> None:
        self.port = port
        self.port.timeout = 0.05
        self.seen = b""

    def close(self) -> None:
        self.port.close()

    def expect(self, marker: bytes, timeout: float = 30) -> bytes:
        """Everything up to and including ``marker``."""
        end = time.monotonic() + timeout
        while marker not in self.seen:
            if time.monotonic() > end:
                raise TimeoutError(f"waited {timeout} s for {marker!r}; got {self.seen[-400:]!r}")
            self.seen += self.port.read(4096)
        head, _, self.seen = self.seen.partition(marker)
        return head + marker

    def raw(self) -> None:
        self.port.write(b"\r\x01")
        self.expect(b"raw REPL; CTRL-B to exit\r\n>")

    def start(self, code: str) -> None:
        """Send code to the raw REPL and let it run (output follows)."""
        self.port.write(code.encode() + b"\x04")
        self.expect(b"OK")

    def run(self, code: str, timeout: float = 60) -> str:
        """Run code in the raw REPL; its output, or AssertionError with its traceback."""
        self.start(code)
        out = self.expect(b"\x04", timeout)[:-1]
        err = self.expect(b"\x04", timeout)[:-1]
        self.expect(b">", timeout)
        assert not err, err.decode(errors="replace")
        return out.decode().replace("\r\n", "\n")


class DiskGuest:
    def __init__(self, guest: Guest) -> None:
        self.guest = guest
        self.console = Console(guest.console())

    def stop(self) -> None:
        self.console.close()
        self.guest.stop()


@pytest.fixture
def start(image_for) -> Iterator:  # type: ignore[no-untyped-def]
    """start(board, *images) -> a booted guest at its REPL, raw mode."""
    running: list[DiskGuest] = []

    def go(board: str, *images: Path, wait_banner: bool = True, blkdebug: Path | None = None) -> DiskGuest:
        g = DiskGuest(boot(image_for(board), disks=tuple(images), blkdebug=blkdebug))
        running.append(g)
        if wait_banner:
            g.banner = g.console.expect(b">>> ").decode(errors="replace")  # type: ignore[attr-defined]
            g.console.raw()
        return g

    yield go
    for g in running:
        g.stop()


@pytest.mark.parametrize("fs", ["lfs", "fat"])
@pytest.mark.parametrize("board", BOARDS)
def test_host_writes_guest_reads_and_back(start, tmp_path: Path, fs: str, board: str) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "greeting.txt").write_text("made on the host\n")
    (src / "lib" / "helper.py").write_text("VALUE = 42\n")
    img = tmp_path / "disk.img"
    disk.create(img, fs, 4 << 20, src)

    g = start(board, img)
    out = g.console.run(
        "import os, helper\n"
        "print(os.getcwd(), sorted(os.listdir('/')))\n"
        "print(open('greeting.txt').read().strip(), helper.VALUE)\n"
        "with open('/guest.bin', 'wb') as f: f.write(bytes(range(256)) * 40)\n"
        "os.mkdir('/d')\n"
        "with open('/d/t.txt', 'w') as f: f.write('text\\n')\n"
        "os.sync()\n"
    )
    assert out.splitlines() == ["/ ['greeting.txt', 'lib', 'rom']", "made on the host 42"]
    g.stop()
    assert disk.read(img, "/guest.bin") == bytes(range(256)) * 40
    assert disk.read(img, "/d/t.txt") == b"text\n"


def test_files_survive_reboot_and_qemu_restart(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    img = tmp_path / "disk.img"
    disk.create(img, "lfs", 1 << 20)
    g = start(BOARD, img)
    g.console.run("with open('/kept.txt', 'w') as f: f.write('before reboot')\n")
    # machine.reset(): the VM reboots in the same QEMU.
    g.console.start("import machine; machine.reset()\n")
    g.console.expect(b">>> ")
    g.console.raw()
    assert g.console.run("print(open('/kept.txt').read())\n").strip() == "before reboot"
    g.console.run("with open('/kept.txt', 'a') as f: f.write(', and after')\n")
    g.stop()
    g = start(BOARD, img)
    assert g.console.run("print(open('/kept.txt').read())\n").strip() == "before reboot, and after"


def test_full_disk_raises_enospc_and_stays_consistent(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    img = tmp_path / "small.img"
    disk.create(img, "lfs", 256 << 10)  # 16 littlefs blocks
    g = start(BOARD, img)
    out = g.console.run(
        "import os, errno\n"
        "with open('/keep.txt', 'w') as f: f.write('keep me')\n"
        "n = 0\n"
        "try:\n"
        "    with open('/fill.bin', 'wb') as f:\n"
        "        while True:\n"
        "            f.write(bytes(4096)); n += 1\n"
        "except OSError as e:\n"
        "    print('error', e.errno == errno.ENOSPC, n > 10)\n"
        "print(open('/keep.txt').read())\n"
        "os.remove('/fill.bin')\n"
        "with open('/after.txt', 'w') as f: f.write('room again')\n"
        "print(sorted(os.listdir('/')))\n"
    )
    assert out.splitlines() == ["error True True", "keep me", "['after.txt', 'keep.txt', 'rom']"]
    g.stop()
    assert disk.read(img, "/after.txt") == b"room again"
    assert disk.read(img, "/keep.txt") == b"keep me"


def test_read_only_mount_refuses_writes(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    img = tmp_path / "disk.img"
    disk.create(img, "lfs", 1 << 20)
    disk.write(img, "/a.txt", b"original")
    g = start(BOARD, img)
    out = g.console.run(
        "import vfs, blockdev, errno, _boot\n"
        "vfs.umount('/')\n"
        "vfs.mount(_boot._filesystem(blockdev, 0, 'lfs'), '/', readonly=True)\n"
        "print(open('/a.txt').read())\n"
        "def write(path):\n"
        "    with open(path, 'w') as f:\n"
        "        f.write('changed')\n"
        "for op in (lambda: write('/a.txt'), lambda: write('/new'), lambda: __import__('os').remove('/a.txt')):\n"
        "    try:\n"
        "        op(); print('wrote!')\n"
        "    except OSError as e:\n"
        "        print('EROFS' if e.errno == errno.EROFS else e.errno)\n"
    )
    assert out.splitlines() == ["original", "EROFS", "EROFS", "EROFS"]
    g.stop()
    assert disk.read(img, "/a.txt") == b"original"


@pytest.mark.parametrize(
    "kind",
    ["zeros", "random", "damaged", "truncated", "odd-size"],
)
def test_bad_disk_gives_one_line_at_boot(start, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    """Not a filesystem, random bytes over a littlefs image, an image cut
    mid-block, a size that is no multiple of a sector: one line, the REPL
    comes up, the image is not written to."""
    img = tmp_path / "bad.img"
    if kind == "zeros":
        img.write_bytes(bytes(1 << 20))
    else:
        disk.create(img, "lfs", 1 << 20, None)
        data = bytearray(img.read_bytes())
        rng = random.Random(14)
        if kind == "random":
            data = bytearray(rng.randbytes(len(data)))
        elif kind == "damaged":
            for _ in range(64):
                at = rng.randrange(0, 16 * 4096)
                data[at : at + 64] = rng.randbytes(64)
        elif kind == "truncated":
            data = data[: 4096 + 1000]
        else:
            data += b"\x01" * 100
        img.write_bytes(bytes(data))
    before = img.read_bytes()
    g = start(BOARD, img)
    banner = g.banner  # type: ignore[attr-defined]
    if kind in ("zeros", "random", "truncated"):
        assert "storage: disk 0 is not a lfs or fat filesystem" in banner, banner
        assert banner.count("storage:") == 1, banner
    # Whatever mounted (a damaged littlefs may, from its other superblock)
    # can be walked without a fault.
    out = g.console.run(
        "import os\n"
        "def walk(d):\n"
        "    for e in os.ilistdir(d):\n"
        "        if e[1] == 0x4000 and e[0] != 'rom': walk(d.rstrip('/') + '/' + e[0])\n"
        "try:\n"
        "    walk('/')\n"
        "except OSError as e:\n"
        "    print('walk', e.errno)\n"
        "print(1 + 1)\n"
    )
    assert out.splitlines()[-1] == "2"
    g.stop()
    assert g.guest.proc.returncode is not None
    assert img.read_bytes() == before


def test_block_protocol_refuses_bad_requests(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Part of a sector, or past the end: -EINVAL, and the device untouched."""
    img = tmp_path / "disk.img"
    disk.create(img, "fat", 1 << 20)
    g = start(BOARD, img)
    out = g.console.run(
        "import blockdev, errno\n"
        "d = blockdev.Disk(0)\n"
        "b = bytearray(512)\n"
        "print(d.readblocks(0, b), d.readblocks(1, bytearray(100)), d.readblocks(1 << 40, b))\n"
        "print(d.ioctl(4, 0), d.ioctl(5, 0), d.ioctl(3, 0))\n"
    )
    assert out.splitlines() == [f"0 {-22} {-22}", "2048 512 0"]


def test_image_with_the_earlier_4k_blocks_still_mounts(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """littlefs refuses another block size (EINVAL); _boot.py then mounts with
    the block sizes of earlier images (lfs_geometry.OLD_BLOCK_SIZES)."""
    img = tmp_path / "old.img"
    oldlfs.make_4k_image(img)
    g = start(BOARD, img)
    assert "storage:" not in g.banner  # type: ignore[attr-defined]
    out = g.console.run("print(open('/old.txt').read())\nwith open('/new.txt', 'w') as f: f.write('and written')\n")
    assert out.splitlines() == [oldlfs.CONTENT.decode()]
    g.stop()
    assert disk.read(img, "/new.txt") == b"and written"


@pytest.mark.parametrize("board", BOARDS)
def test_block_cache_reads_ahead_and_sees_every_write(start, tmp_path: Path, board: str) -> None:  # type: ignore[no-untyped-def]
    """The block layer's read cache (modules/block/blockcache.h): a first miss
    reads its own page, the next one (sequential) reads ahead in one request
    and the next 60 sectors come from memory, a write goes to
    the device before a read can see it, and after drop_caches() the device
    itself answers with what was written."""
    img = tmp_path / "disk.img"
    disk.create(img, "fat", 1 << 20)
    g = start(board, img)
    out = g.console.run(
        "import blockdev\n"
        "d = blockdev.Disk(0)\n"
        "b = bytearray(512)\n"
        "blockdev.drop_caches()\n"
        "r0 = blockdev.stats()[0]\n"
        "for s in range(1024, 1088):\n"
        "    assert d.readblocks(s, b) == 0\n"
        "print('requests', blockdev.stats()[0] - r0, blockdev.cache()[0] > 0)\n"
        "w = bytes(range(256)) * 2\n"
        "r0 = blockdev.stats()[0]\n"
        "print('write', d.writeblocks(1030, w), blockdev.stats()[0] - r0)\n"
        "print('cached', d.readblocks(1030, b), b == w, blockdev.stats()[0] - r0)\n"
        "blockdev.drop_caches()\n"
        "b = bytearray(512)\n"
        "print('device', d.readblocks(1030, b), b == w, blockdev.stats()[0] - r0)\n",
    )
    assert out.splitlines() == ["requests 2 True", "write 0 1", "cached 0 True 1", "device 0 True 2"]
    g.stop()
    assert img.read_bytes()[1030 * 512 : 1031 * 512] == bytes(range(256)) * 2


def test_littlefs_reads_a_file_back_whole_in_few_requests(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """littlefs on blockdev.Disk: its device calls are C calls (the VFS's
    native path, patches/micropython/0015), while a Python subclass of Disk
    still has its own readblocks called; a 2 MiB file read back after
    drop_caches() comes in a few readahead windows (skip-list walks ahead
    of the reader included) and equals what was written, read whole, at odd
    offsets and in odd sizes (file data straight into the caller's buffer,
    patches/micropython/0016)."""
    img = tmp_path / "disk.img"
    disk.create(img, "lfs", 16 << 20)
    g = start(BOARD, img)
    out = g.console.run(
        "import blockdev, vfs, os\n"
        "from lfs_geometry import BLOCK_SIZE, LOOKAHEAD, PROG_SIZE, READ_SIZE\n"
        "ref = bytes((i * 7 + i // 4099) & 0xFF for i in range(1 << 16)) * 32\n"
        "with open('/big', 'wb') as f:\n"
        "    f.write(ref)\n"
        "blockdev.drop_caches()\n"
        "r0 = blockdev.stats()[0]\n"
        "buf = bytearray(1 << 20)\n"
        "got = bytearray()\n"
        "with open('/big', 'rb') as f:\n"
        "    while True:\n"
        "        n = f.readinto(buf)\n"
        "        if not n:\n"
        "            break\n"
        "        got += buf[:n]\n"
        "print('requests', blockdev.stats()[0] - r0, got == ref)\n"
        "ok = True\n"
        "with open('/big', 'rb') as f:\n"
        "    for pos, size in ((1, 70001), (16379, 5), (16380, 40000), (524287, 16385), (2097151, 9)):\n"
        "        f.seek(pos)\n"
        "        ok = ok and f.read(size) == ref[pos : pos + size]\n"
        "print('offsets', ok)\n"
        "calls = []\n"
        "class Counted(blockdev.Disk):\n"
        "    def readblocks(self, block, b, offset=0):\n"
        "        calls.append(block)\n"
        "        return super().readblocks(block, b, offset)\n"
        "fs = vfs.VfsLfs2(Counted(0, BLOCK_SIZE), readsize=READ_SIZE, progsize=PROG_SIZE, lookahead=LOOKAHEAD)\n"
        "vfs.mount(fs, '/m', readonly=True)\n"
        "with open('/m/big', 'rb') as f:\n"
        "    print('subclass', f.read() == ref, len(calls) > 100)\n"
        "vfs.umount('/m')\n",
        timeout=120,
    )
    lines = out.splitlines()
    requests, whole = lines[0].split()[1:]
    # 2 MiB in 256 KiB windows is 8; the skip-list walks ahead of the reader
    # add a few (64 KiB windows and single blocks took 99).
    assert int(requests) <= 20, lines[0]
    assert whole == "True"
    assert lines[1:] == ["offsets True", "subclass True True"]
    g.stop()


#: The guest's loop: each file written, closed and synced, then acknowledged.
SYNCED_LOOP = (
    "import os\n"
    "i = %d\n"
    "while True:\n"
    "    data = (b'%%06d' %% i) * (1 + i %% 300)\n"
    "    with open('/f%%06d' %% i, 'wb') as f:\n"
    "        f.write(data)\n"
    "    os.sync()\n"
    "    print('ACK', i)\n"
    "    i += 1\n"
)
#: A broken program for the negative control: it acknowledges each file
#: before writing it, so a power cut during the write loses an acknowledged file.
ACK_FIRST_LOOP = (
    "import os\n"
    "i = %d\n"
    "while True:\n"
    "    data = (b'%%06d' %% i) * (1 + i %% 300)\n"
    "    print('ACK', i)\n"
    "    with open('/f%%06d' %% i, 'wb') as f:\n"
    "        f.write(data)\n"
    "    os.sync()\n"
    "    i += 1\n"
)


#: QEMU blkdebug rules: every write fails, and reads of sector 1024.
FAILING_DEVICE = """
[inject-error]
event = "write_aio"
errno = "5"

[inject-error]
event = "read_aio"
errno = "5"
sector = "1024"
"""


@pytest.mark.parametrize("board", BOARDS)
def test_device_errors_are_oserror_eio(start, tmp_path: Path, board: str) -> None:  # type: ignore[no-untyped-def]
    """A device that answers reads and writes with an error status: the app
    gets OSError(EIO), the guest goes on, and nothing reaches the image."""
    img = tmp_path / "disk.img"
    disk.create(img, "lfs", 2 << 20)
    before = img.read_bytes()
    rules = tmp_path / "blkdebug.conf"
    rules.write_text(FAILING_DEVICE)
    g = start(board, img, blkdebug=rules)
    out = g.console.run(
        "import os, blockdev\n"
        "b = bytearray(512)\n"
        "d = blockdev.Disk(0)\n"
        "print('read', d.readblocks(0, b), d.readblocks(1024, b), d.writeblocks(5, b))\n"
        "try:\n"
        "    with open('/new', 'wb') as f:\n"
        "        f.write(b'x' * 5000)\n"
        "    os.sync()\n"
        "    print('written')\n"
        "except OSError as e:\n"
        "    print('write', e.errno)\n"
        "print(os.listdir('/'), 6 * 7)\n",
        timeout=60,
    )
    lines = out.splitlines()
    assert lines[0] == "read 0 -5 -5"
    assert lines[1] == "write 5"
    assert lines[-1].endswith(" 42")
    g.stop()
    assert img.read_bytes() == before


#: The power-cut tests' disk: 512 littlefs blocks, room for every file a run
#: writes. (On a full 2 MiB disk, 128 blocks, littlefs-python 0.19 - littlefs
#: 2.11 - once reported LFS_ERR_CORRUPT for an inline file that the guest's
#: littlefs 2.8 read back whole: a host/guest version difference on a full
#: disk, outside what these tests check.)
POWERCUT_DISK = 8 << 20


def _powercut_cycles(  # type: ignore[no-untyped-def]
    start, img: Path, fs: str, cycles: int, seed: int, loop: str = SYNCED_LOOP
) -> tuple[int, int]:
    """Boot, write numbered files (by default each closed and synced, then
    acknowledged), SIGKILL QEMU at a random moment; repeat. Returns
    (acknowledged files, files lost or damaged) as the host reads them;
    disk.DiskError if the image no longer mounts on the host."""
    rng = random.Random(seed)
    acked: set[int] = set()
    next_id = 0
    for _ in range(cycles):
        g = start(BOARD, img)
        g.console.start(loop % next_id)
        deadline = time.monotonic() + rng.uniform(0.02, 0.6)
        while time.monotonic() < deadline:
            g.console.seen += g.console.port.read(4096)
        os.kill(g.guest.proc.pid, signal.SIGKILL)
        g.guest.proc.wait()
        g.console.seen += g.console.port.read(65536)
        for line in g.console.seen.decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "ACK" and parts[1].isdigit():
                acked.add(int(parts[1]))
        next_id = max(acked, default=-1) + 1000  # never rewrite a name an unacked write may hold
        g.stop()
    files = disk.read_all(img)  # one mount: the image must mount at all
    lost = sum(files.get(f"/f{i:06d}") != f"{i:06d}".encode() * (1 + i % 300) for i in acked)
    return len(acked), lost


def test_power_cuts_lose_no_acknowledged_file(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """At least 100 SIGKILLs of QEMU at random moments while the guest
    writes: littlefs keeps every file it acknowledged, complete."""
    img = tmp_path / "disk.img"
    disk.create(img, "lfs", POWERCUT_DISK)
    cycles = int(os.environ.get("PYUNIK_POWERCUT_CYCLES", "100"))
    acked, lost = _powercut_cycles(start, img, "lfs", cycles, seed=int(time.time()))
    print(f"littlefs: {cycles} power cuts, {acked} files acknowledged, {lost} lost")
    # The loop made progress, so the check has files to find lost. How many a cut
    # leaves acknowledged depends on the host's speed (the kill comes 0.02-0.6 s
    # after the loop starts): CI on 2026-12-03 saw 37 in 100 cuts, 0 lost.
    assert acked >= cycles // 5, acked
    assert lost == 0


def test_power_cuts_on_fat_are_recorded(start, tmp_path: Path, record_property) -> None:  # type: ignore[no-untyped-def]
    """The same power cuts on FAT (oofatfs: no journal), recorded, not asserted:
    the negative control issue 14 asks for. FAT's count is whatever it is."""
    img = tmp_path / "disk.img"
    disk.create(img, "fat", POWERCUT_DISK)
    # 30 in CI (about a minute); 100 cycles measured 240 acknowledged, 0 lost.
    cycles = int(os.environ.get("PYUNIK_FAT_POWERCUT_CYCLES", "30"))
    try:
        acked, lost = _powercut_cycles(start, img, "fat", cycles, seed=int(time.time()))
        result = f"{acked} files acknowledged, {lost} lost"
    except disk.DiskError as exc:
        acked, lost, result = -1, -1, f"the image no longer mounts on the host: {exc}"
    print(f"FAT: {cycles} power cuts, {result}")
    record_property("fat_power_cuts", {"cycles": cycles, "acked": acked, "lost": lost, "result": result})


def test_power_cut_check_detects_a_lost_acknowledged_file(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The check itself can fail: a program that acknowledges before it
    writes loses acknowledged files to power cuts, and the check counts them."""
    img = tmp_path / "disk.img"
    disk.create(img, "lfs", POWERCUT_DISK)
    acked, lost = _powercut_cycles(start, img, "lfs", 20, seed=int(time.time()), loop=ACK_FIRST_LOOP)
    print(f"littlefs, acknowledged before written: 20 power cuts, {acked} acknowledged, {lost} lost")
    assert lost > 0


def mpremote(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if shutil.which("mpremote") is None and not Path(sys.executable).with_name("mpremote").exists():
        pytest.fail("mpremote is not installed (pip install -e . installs it)")
    return subprocess.run([sys.executable, "-m", "mpremote", *args], capture_output=True, text=True, timeout=timeout)


def test_mpremote_fs_mount_and_run(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    img = tmp_path / "disk.img"
    disk.create(img, "lfs", 1 << 20)
    g = start(BOARD, img, wait_banner=False)
    g.console.expect(b">>> ")
    g.console.close()  # mpremote takes the console
    pty = g.guest.pty
    local = tmp_path / "local.txt"
    local.write_text("from mpremote\n")
    steps = [
        (["fs", "mkdir", ":/sub"], None),
        (["fs", "cp", str(local), ":/sub/l.txt"], None),
        (["fs", "ls", ":/sub"], "l.txt"),
        (["fs", "cat", ":/sub/l.txt"], "from mpremote"),
        (["fs", "cp", ":/sub/l.txt", str(tmp_path / "back.txt")], None),
        (["fs", "rm", ":/sub/l.txt"], None),
        (["fs", "ls", ":/sub"], None),
    ]
    for args, expected in steps:
        result = mpremote("connect", pty, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        if expected is not None:
            assert expected in result.stdout, (args, result.stdout)
    assert (tmp_path / "back.txt").read_text() == "from mpremote\n"
    assert "l.txt" not in result.stdout

    project = tmp_path / "project"
    project.mkdir()
    (project / "shared_mod.py").write_text("print('imported from the host', 6 * 7)\n")
    result = mpremote("connect", pty, "mount", str(project), "exec", "import shared_mod")
    assert result.returncode == 0, result.stderr
    assert "imported from the host 42" in result.stdout
    script = tmp_path / "script.py"
    script.write_text("import os\nprint('run:', sorted(os.listdir('/sub')))\n")
    result = mpremote("connect", pty, "run", str(script))
    assert result.returncode == 0, result.stderr
    assert "run: []" in result.stdout
