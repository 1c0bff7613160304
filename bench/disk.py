"""Storage (issue 14): file I/O through pyunik's VFS vs the same program in a Linux guest.

One MicroPython program (bench/programs/disk_io.py) runs on every side:
frozen as main.py into the `qemu-microvm-disk` image (its disk mounted at /
by the storage plugin), and under the unix port from the same pinned tree
inside the Linux guest (bench/linux.py: Debian's kernel with its own
virtio_blk, ext4 and vfat modules; /init mounts /dev/vda at /mnt). Both boot
under the same QEMU (TCG, one vCPU pinned to host CPU 0), the same machine and
-m, the same disk model and drive options (pyunik.vm.disk_args: virtio-blk on
virtio-mmio, raw, cache=writeback) on a fresh image of the same size. The
sides:

- pyunik/lfs: littlefs v2, pyunik's default (power-loss safe);
- pyunik/fat: FAT (oofatfs), for interchange;
- linux/ext4: ext4 as mkfs.ext4 makes it (journal, data=ordered), the file
  system a Linux guest would use: the base for littlefs, both keeping
  metadata consistent across a power cut;
- linux/vfat: the same FAT image format (made by mtools, as pyunik's) under
  the kernel's vfat: the like-for-like base for pyunik/fat;
- linux/dd: busybox dd with oflag=direct / iflag=direct on the raw device:
  what the virtual disk itself gives a guest, no file system.

Measured (the program's own ticks_us): sequential write and read MB/s in
1 MiB records (write ends with a flush: fsync on Linux, a file-system sync and
a virtio FLUSH on pyunik; reads start with the caches dropped: Linux's page
cache, pyunik's block cache, blockdev.drop_caches()),
4 KiB random-read IOPS, small files (1 KiB, create+write+flush+close) per
second; QEMU's own block statistics (QMP query-blockstats, read while the
program waits between phases) give the bytes and operations the host saw for
each phase, hence host bytes written per byte the program wrote; boot -> first
file read (QEMU start until the program prints the first file's contents,
host clock); mount time (pyunik: a second, read-only mount inside the guest;
Linux: /init's mount, from /proc/uptime at 10 ms resolution).

Runs alternate between the sides round by round so that host load touches all
alike. Ratios are pyunik / Linux guest; goals (issue 14): sequential read and
write and small files >= 1.0x the Linux guest's MicroPython.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import common, linux
from bench.net import QEMU_CPU, pinned
from pyunik import board as boards
from pyunik import disk as disks
from pyunik import vm

BOARD = "qemu-microvm-disk"
#: The same -m for every side: comfortably above what the Linux guest needs.
MEMORY = "128M"
#: The disk image every side gets (a fresh one per run).
DISK_SIZE = 64 << 20
FIRST_TEXT = "pyunik disk bench\n"
SIDES = ("pyunik/lfs", "pyunik/fat", "linux/ext4", "linux/vfat")
#: Which Linux side each pyunik side is read against: the goals use these.
BASES = {"pyunik/lfs": "linux/ext4", "pyunik/fat": "linux/vfat"}
METRICS = ("seq_write_mb_s", "seq_read_mb_s", "rand_read_iops", "small_files_per_s")
GOALS = {"seq_write_mb_s": 1.0, "seq_read_mb_s": 1.0, "small_files_per_s": 1.0}
#: Issue 14: the image with virtio-blk + littlefs + FAT at most this much bigger than the REPL image.
IMAGE_GROWTH_GOAL_KIB = 120
REPL_BOARD = "qemu-microvm"
TIMEOUT = {"pyunik": 240.0, "linux": 300.0}
#: The unix port's heap in the Linux guest when pyunik's has not been read yet.
DEFAULT_HEAP = 16 << 20
_RESULT = re.compile(r"^RESULT (\w+) (\d+) (\d+) (\d+)\s*$", re.M)
_MOUNTED = re.compile(r"init: mounted \w+ in ([\d.]+) ([\d.]+)")
_DD = re.compile(r"^DD (\w+) (\d+) ([\d.]+) ([\d.]+)\s*$", re.M)


def make_image(path: Path, fs: str, content: Path) -> None:
    """A fresh DISK_SIZE image holding ``content`` (first.txt): littlefs and FAT
    through pyunik.disk (littlefs-python, mtools), ext4 through mkfs.ext4 -d."""
    path.unlink(missing_ok=True)
    if fs in ("lfs", "fat"):
        disks.create(path, fs, DISK_SIZE, content)
    elif fs == "vfat":
        disks.create(path, "fat", DISK_SIZE, content)
    elif fs == "ext4":
        mkfs = shutil.which("mkfs.ext4") or "/usr/sbin/mkfs.ext4"
        with path.open("wb") as f:
            f.truncate(DISK_SIZE)
        common.check([mkfs, "-q", "-F", "-d", content, path], timeout=60, what="mkfs.ext4")
    elif fs == "raw":
        with path.open("wb") as f:
            f.truncate(DISK_SIZE)
    else:
        raise common.BenchError(f"unknown file system {fs!r}")


def app_dir(work: Path) -> Path:
    """An app whose main.py is bench/programs/disk_io.py, frozen into the disk board's image."""
    app = work / "disk-app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "main.py").write_text(common.program("disk_io.py"), encoding="utf-8")
    return app


def blockstats(monitor: Path) -> dict[str, int]:
    """QEMU's counters for disk 0 (bytes, operations, flushes), as the host saw them."""
    reply = vm.qmp(monitor, "query-blockstats")
    devices = reply.get("return")
    if not isinstance(devices, list) or not devices:
        raise common.BenchError(f"query-blockstats: {reply}")
    stats = devices[0]["stats"]
    keys = ("rd_bytes", "wr_bytes", "rd_operations", "wr_operations", "flush_operations")
    return {k: int(stats[k]) for k in keys}


def drive(console: common.Console, monitor: Path, timeout: float) -> dict[str, Any]:
    """Follow the program: time FIRST, read the block counters at each PHASE
    and let it go on, collect RESULT lines until DONE."""
    _, first = console.expect_or_fail(b"FIRST ", timeout, fail=linux.FAILURES)
    phases: dict[str, dict[str, int]] = {}
    while True:
        console.expect_or_fail(b"PHASE ", timeout, fail=(b"Traceback", *linux.FAILURES))
        name, _ = console.expect_or_fail(b"\n", 10)
        phase = name.decode(errors="replace").strip()
        phases[phase] = blockstats(monitor)
        console.write(b"\n")
        if phase == "small_files":
            break
    console.expect_or_fail(b"DONE", timeout, fail=(b"Traceback",))
    text = console.buffer.decode(errors="replace").replace("\r", "")
    results = {m[0]: {"count": int(m[1]), "bytes": int(m[2]), "us": int(m[3])} for m in _RESULT.findall(text)}
    heap = re.search(r"^HEAP (\d+)", text, re.M)
    mounted = _MOUNTED.search(text)
    entry: dict[str, Any] = {"first_file_read_s": first, "results": results, "blockstats": phases}
    if heap:
        entry["heap_bytes"] = int(heap.group(1))
    if mounted:
        entry["mount_us"] = round((float(mounted.group(2)) - float(mounted.group(1))) * 1e6)
    elif "mount_us" in results:
        entry["mount_us"] = results["mount_us"]["us"]
    return entry


def one_run(side: str, work: Path, settings: dict[str, int], heap: int) -> dict[str, Any]:
    """Boot ``side`` on a fresh image and run the program once."""
    platform, fs = side.split("/")
    content = work / "content"
    content.mkdir(exist_ok=True)
    (content / "first.txt").write_text(FIRST_TEXT)
    image = work / f"{fs}.img"
    make_image(image, fs, content)
    monitor = work / "qmp.sock"
    monitor.unlink(missing_ok=True)
    qmp = ["-qmp", f"unix:{monitor},server=on,wait=off"]
    words = f"{settings['seq_mib']} {settings['rand_reads']} {settings['small_files']} pause"
    board = boards.load(BOARD)
    if platform == "pyunik":
        built = common.app_image(BOARD, app_dir(common.WORK))
        argv = vm.qemu_command(
            built.board,
            built.stripped,
            serial="stdio",
            memory=MEMORY,
            cmdline=" ".join(w for w in (built.board.vm.cmdline, f"-- . {words}") if w),
            plugin_args=built.qemu_args,
            extra=["-no-reboot", *vm.disk_args(board, [image]), *qmp],
        ).argv
    else:
        init = f"-X heapsize={heap} /bench/disk_io.py /mnt {words}"
        argv = tuple(linux.argv(BOARD, MEMORY, init, options=f"disk={fs}", disks=[image], extra=qmp))
    with common.Console(pinned(list(argv), QEMU_CPU)) as console:
        entry = drive(console, monitor, TIMEOUT[platform])
        console.wait_exit(30)
    entry["argv"] = [str(a) for a in argv]
    return entry


def dd_run(work: Path, mib: int) -> dict[str, float]:
    """busybox dd with O_DIRECT on the raw virtio-blk disk of the Linux guest: MB/s each way."""
    image = work / "raw.img"
    make_image(image, "raw", work)
    argv = linux.argv(BOARD, MEMORY, f"/bench/dd.sh {mib}", options="disk=raw", disks=[image])
    with common.Console(pinned(argv, QEMU_CPU)) as console:
        console.expect_or_fail(b"DD read", TIMEOUT["linux"], fail=linux.FAILURES)
        console.expect_or_fail(b"\n", 10)
        text = console.buffer.decode(errors="replace").replace("\r", "")
    found = {m[0]: (int(m[1]), float(m[3]) - float(m[2])) for m in _DD.findall(text)}
    if set(found) != {"write", "read"}:
        raise common.BenchError(f"dd: no DD lines in {text[-500:]!r}")
    return {f"dd_{way}_mb_s": round(n * (1 << 20) / max(s, 0.01) / 1e6, 2) for way, (n, s) in found.items()}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over one side's runs, and its host bytes written per byte written."""

    def med(values: list[float]) -> float:
        return statistics.median(values)

    def rate(name: str, per: str) -> list[float]:
        out = []
        for run in runs:
            r = run["results"].get(name)
            if r and r["us"]:
                amount = r["bytes"] / 1e6 if per == "mb" else r["count"]
                out.append(amount / (r["us"] / 1e6))
        return out

    summary: dict[str, Any] = {"runs": len(runs), "raw": [{k: v for k, v in r.items() if k != "argv"} for r in runs]}
    for metric, (name, per) in {
        "seq_write_mb_s": ("seq_write", "mb"),
        "seq_read_mb_s": ("seq_read", "mb"),
        "rand_read_iops": ("rand_read", "ops"),
        "small_files_per_s": ("small_files", "ops"),
    }.items():
        values = rate(name, per)
        if values:
            summary[metric] = round(med(values), 2)
            summary[metric + "_all"] = [round(v, 2) for v in values]
    firsts = [run["first_file_read_s"] for run in runs]
    summary["first_file_read_ms"] = round(med(firsts) * 1000, 1)
    summary["first_file_read_ms_all"] = [round(v * 1000, 1) for v in firsts]
    mounts = [run["mount_us"] for run in runs if "mount_us" in run]
    if mounts:
        summary["mount_ms"] = round(med(mounts) / 1000, 2)
    # Host-side amplification: what QEMU wrote to the image per byte the program wrote.
    for phase, written in (("seq_write", "seq_write"), ("small_files", "small_files")):
        ratios, flushes = [], []
        for run in runs:
            stats, r = run["blockstats"], run["results"].get(written)
            before = "start" if phase == "seq_write" else "rand_read"
            if r and phase in stats and before in stats and r["bytes"]:
                ratios.append((stats[phase]["wr_bytes"] - stats[before]["wr_bytes"]) / r["bytes"])
                flushes.append((stats[phase]["flush_operations"] - stats[before]["flush_operations"]) / r["count"])
        if ratios:
            summary[f"{phase}_host_bytes_per_byte"] = round(med(ratios), 2)
            summary[f"{phase}_flushes_per_op"] = round(med(flushes), 2)
    return summary


def image_growth_kib() -> dict[str, float]:
    """Stripped image sizes (KiB): the disk board (no app) and the REPL board it adds to."""
    sizes = {name: common.image(name).stripped.stat().st_size / 1024 for name in (REPL_BOARD, BOARD)}
    return {
        "repl_kib": round(sizes[REPL_BOARD], 1),
        "disk_kib": round(sizes[BOARD], 1),
        "growth_kib": round(sizes[BOARD] - sizes[REPL_BOARD], 1),
    }


def run(quick: bool) -> dict[str, object]:
    if shutil.which("mkfs.ext4") is None and not Path("/usr/sbin/mkfs.ext4").exists():
        raise common.BenchError("mkfs.ext4 is not installed (Debian's e2fsprogs)")
    try:
        boards.load(BOARD)
    except boards.BoardError as exc:
        raise common.BenchError(f"board {BOARD} is not there yet: {exc}") from None
    rounds = 1 if quick else 3
    # Sized for minutes under TCG on a shared host: littlefs writes ~2-3 MB/s and creates
    # 5-20 small files/s here (slower as one directory fills), so the full run stays at
    # 8 MiB and 100 files (16 MiB and 200 files took 17 minutes at a load of 13-16).
    settings = {
        "seq_mib": 4 if quick else 8,
        "rand_reads": 200 if quick else 500,
        "small_files": 50 if quick else 100,
    }
    common.WORK.mkdir(parents=True, exist_ok=True)  # also when --out puts the results elsewhere
    work = Path(tempfile.mkdtemp(prefix="disk-", dir=common.WORK))
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    errors: dict[str, list[str]] = {}
    heap = [DEFAULT_HEAP]

    def attempt(side: str, fn: Callable[[], dict[str, Any]]) -> None:
        common.log(f"disk: {side}")
        try:
            entry = fn()
        except (common.BenchError, OSError, disks.DiskError, subprocess.SubprocessError) as exc:
            errors.setdefault(side, []).append(str(exc)[:800])
            common.log(f"disk: {side} failed: {str(exc)[:300]}")
            return
        runs[side].append(entry)
        if side == "pyunik/lfs" and "heap_bytes" in entry:
            heap[0] = entry["heap_bytes"]  # the unix port gets pyunik's heap

    try:
        # Round by round, every side once: host load touches them alike.
        for _ in range(rounds):
            for side in SIDES:
                attempt(side, lambda s=side: one_run(s, work, settings, heap[0]))
        dd: dict[str, Any] = {}
        try:
            dd = dd_run(work, settings["seq_mib"] * 2)
        except common.BenchError as exc:
            errors.setdefault("linux/dd", []).append(str(exc)[:800])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    platforms = {side: summarise(r) for side, r in runs.items() if r}
    ratios: dict[str, float | None] = {}
    goals: dict[str, bool] = {}
    for mine, base in BASES.items():
        a, b = platforms.get(mine, {}), platforms.get(base, {})
        for metric in (*METRICS, "first_file_read_ms"):
            value = common.ratio(a[metric], b[metric]) if metric in a and metric in b else None
            ratios[f"{metric}: {mine} / {base}"] = value
            if metric in GOALS:
                goals[f"{metric} {mine} >= {GOALS[metric]}x {base}"] = value is not None and value >= GOALS[metric]
    growth = image_growth_kib()
    goals[f"image growth <= {IMAGE_GROWTH_GOAL_KIB} KiB over {REPL_BOARD}"] = (
        growth["growth_kib"] <= IMAGE_GROWTH_GOAL_KIB
    )
    return {
        "image": growth,
        "what": "bench/programs/disk_io.py on pyunik (littlefs, FAT) vs the unix port in a Linux guest "
        "(ext4, vfat), same QEMU, -m, virtio-blk model and drive options",
        "board": BOARD,
        "memory": MEMORY,
        "qemu_cpu": QEMU_CPU,
        "disk_bytes": DISK_SIZE,
        "argv": {side: r[0]["argv"] for side, r in runs.items() if r},
        "unix_port_heap_bytes": heap[0],
        "settings": {**settings, "rounds": rounds, "record_bytes": 1 << 20, "small_file_bytes": 1024},
        "platforms": platforms,
        "linux_dd": dd,
        "errors": errors,
        "ratios": ratios,
        "goals": goals,
    }
