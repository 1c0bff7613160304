"""pyunik as a real Xen PVH domU: time to the prompt beside a floor, and the least memory.

`invoke bench --only xen` (or `python -m bench.xen [--runs N]` on its own). In one
rig run (rigs/xenrig.py: Xen 4.17 under QEMU TCG, Debian dom0):
- xl create -> pyunik's first ">>> ", and the floor: xl create -> the first
  console line of tests/xen/pvhtest, a 1 KB PVH kernel that prints one line
  and shuts down; N of each, interleaved (pyunik, floor, pyunik, ...) so that
  a busy moment of the host touches both alike. A run that does not reach its
  marker is counted as failed and reported, never silently dropped;
- the smallest `memory =` (MiB, xl's unit) with which pyunik reaches its
  prompt and runs a small allocation, by bisection between 1 MiB and 32 MiB;
  both ends are tried, not assumed (a prompt at 1 MiB is reported as the least).
Times include xl's own work in dom0 (create, console bridge, unpause), as a
user of `xl create -c` sees them. The ratio is pyunik's median over the floor's.
- netfront and blkfront figures beside dom0 in the same rig boot (bench/xen_io.py);
- HTTP, echo, blkfront read and create -> first HTTP beside a Linux PVH domU (bench/xen_http.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import serial

from bench import common, xen_http, xen_io
from pyunik import board as boards
from rigs import xenrig
from rigs.xenrig import XenRig, XenRigError

ALLOCATE = b"x = [bytes(100) for i in range(50)]; print('ALLOC', len(x))\r"
FLOOR_MARKER = b"pvhtest: hello"
LOW_MIB, HIGH_MIB = 1, 32


def _floor_elf() -> Path:
    sys.path.insert(0, str(boards.ROOT / "tests" / "xen"))
    try:
        from conftest import build_pvhtest  # the test kernel's one build recipe
    finally:
        sys.path.pop(0)
    return build_pvhtest(xenrig.DEFAULT_CACHE / "pvhtest")


def _read_until(port: serial.SerialBase, marker: bytes, timeout: float) -> bool:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        if time.monotonic() > deadline:
            return False
        data += port.read(port.in_waiting or 1)
    return True


def _time_to(rig: XenRig, elf: Path, name: str, marker: bytes, memory_mb: int, timeout: float = 60) -> float | None:
    port = rig.serial
    port.reset_input_buffer()
    started = time.monotonic()
    domain = rig.create(elf, name, memory_mb=memory_mb)
    ok = _read_until(port, marker, timeout)
    took = time.monotonic() - started
    domain.destroy()
    return took if ok else None


def _boots_with(rig: XenRig, elf: Path, memory_mb: int, tries: list[dict[str, Any]]) -> bool:
    port = rig.serial
    port.reset_input_buffer()
    try:
        domain = rig.create(elf, f"pyunik-mem{memory_mb}", memory_mb=memory_mb)
    except XenRigError as exc:  # xl may refuse a size outright
        tries.append({"mib": memory_mb, "ok": False, "failure": str(exc)[-200:]})
        return False
    prompt = _read_until(port, b">>> ", 20)
    ok = prompt
    if prompt:
        port.write(ALLOCATE)
        ok = _read_until(port, b"ALLOC 50", 20)
    domain.destroy()
    tries.append({"mib": memory_mb, "prompt": prompt, "ok": ok})
    return ok


def _stats(values: list[float]) -> dict[str, Any] | None:
    return common.Stats.of(values).as_dict(1, 3) if values else None


def measure(runs: int, elf: Path, io_runs: int = 0, http_runs: int = 0) -> dict[str, Any]:
    floor = _floor_elf()
    times: dict[str, list[float]] = {"pyunik": [], "floor": []}
    failed: dict[str, int] = {"pyunik": 0, "floor": 0}
    tries: list[dict[str, Any]] = []
    with XenRig() as rig:
        rig.ensure_built()
        started = time.monotonic()
        rig.boot()
        boot = time.monotonic() - started
        for i in range(runs):
            for side, kernel, marker, memory in (
                ("pyunik", elf, b">>> ", 32),
                ("floor", floor, FLOOR_MARKER, 8),
            ):
                took = _time_to(rig, kernel, f"{side}-{i}", marker, memory)
                if took is None:
                    failed[side] += 1
                else:
                    times[side].append(took)
            common.log(f"xen run {i + 1}/{runs}: pyunik {times['pyunik'][-1:]}, floor {times['floor'][-1:]}")
        least: int | None
        if not _boots_with(rig, elf, HIGH_MIB, tries):
            least = None
        elif _boots_with(rig, elf, LOW_MIB, tries):
            least = LOW_MIB
        else:
            low, high = LOW_MIB, HIGH_MIB  # checked: high works, low does not
            while high - low > 1:
                mid = (low + high) // 2
                if _boots_with(rig, elf, mid, tries):
                    high = mid
                else:
                    low = mid
            least = high
        io = xen_io.measure(rig, io_runs) if io_runs else None
        http = xen_http.measure(rig, http_runs) if http_runs else None
    prompt, floor_stats = _stats(times["pyunik"]), _stats(times["floor"])
    ratio = None
    if prompt and floor_stats:
        ratio = round(statistics.median(times["pyunik"]) / statistics.median(times["floor"]), 3)
    return {
        "what": "xl create -> pyunik's first '>>> ' and -> the floor's first line, s (interleaved); least memory =",
        "ratio_base": "the floor's median (xl create -> first console line of tests/xen/pvhtest)",
        "runs": runs,
        "rig_boot_s": round(boot, 2),
        "create_to_prompt_s": prompt,
        "floor_create_to_line_s": floor_stats,
        "failed_runs": failed,
        "ratio_prompt_to_floor": ratio,
        "least_memory_mib": least,
        "memory_range_mib": [LOW_MIB, HIGH_MIB],
        "memory_tries": tries,
        "image_bytes": elf.stat().st_size,
        "io": io,
        "http": http,
    }


def run(quick: bool) -> dict[str, object]:
    """`invoke bench --only xen`: the xen-pvh image built as the other benchmarks build theirs."""
    image = common.image("xen-pvh")
    try:
        return measure(3 if quick else 7, image.elf, io_runs=1 if quick else 3, http_runs=1 if quick else 3)
    except XenRigError as exc:
        raise common.BenchError(f"xen rig: {exc}") from None


def main() -> None:
    from bench import report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--io-runs", type=int, default=3, help="netfront/blkfront runs (bench/xen_io.py); 0: none")
    parser.add_argument("--http-runs", type=int, default=3, help="pyunik/Linux domU runs (xen_http.py); 0: none")
    parser.add_argument("--out", type=Path, default=common.WORK)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = measure(args.runs, common.image("xen-pvh").elf, io_runs=args.io_runs, http_runs=args.http_runs)
    (args.out / "xen.json").write_text(json.dumps({"benchmark": "xen", **result}, indent=2) + "\n")
    report.chart_xen(result, args.out / "xen.png")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
