"""pyunik as a real Xen PVH domU: time to the prompt, the floor, least memory.

In one rig run (pyunik/xenrig.py: Xen 4.17 under QEMU TCG, Debian dom0):
- xl create -> pyunik's first ">>> ", N times;
- the floor: xl create -> the first console line of tests/xen/pvhtest, a
  1 KB PVH kernel that prints one line and shuts down;
- the smallest `memory =` (MiB, xl's unit) with which pyunik reaches its
  prompt and runs a small allocation, by bisection.
Times include xl's own work in dom0 (create, console bridge, unpause), as a
user of `xl create -c` sees them.

Run: python3 bench/xen.py [--runs N] [--out build/bench]; writes xen.json and xen.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import serial

from pyunik import board as boards
from pyunik import build, xenrig
from pyunik.xenrig import XenRig

sys.path.insert(0, str(boards.ROOT / "tests" / "xen"))
from conftest import build_pvhtest  # the test kernel's build recipe

ALLOCATE = b"x = [bytes(100) for i in range(50)]; print('ALLOC', len(x))\r"


def _read_until(port: serial.Serial, marker: bytes, timeout: float) -> bool:
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


def _boots_with(rig: XenRig, elf: Path, memory_mb: int) -> bool:
    port = rig.serial
    port.reset_input_buffer()
    domain = rig.create(elf, f"pyunik-mem{memory_mb}", memory_mb=memory_mb)
    ok = _read_until(port, b">>> ", 20)
    if ok:
        port.write(ALLOCATE)
        ok = _read_until(port, b"ALLOC 50", 20)
    domain.destroy()
    return ok


def measure(runs: int) -> dict[str, object]:
    image = build.build(boards.load("xen-pvh"))
    floor = build_pvhtest(xenrig.DEFAULT_CACHE / "pvhtest")
    with XenRig() as rig:
        rig.ensure_built()
        started = time.monotonic()
        rig.boot()
        boot = time.monotonic() - started
        prompt = [_time_to(rig, image.elf, f"pyunik-{i}", b">>> ", 32) for i in range(runs)]
        floor_times = [_time_to(rig, floor, f"floor-{i}", b"pvhtest: hello", 8) for i in range(runs)]
        low, high = 1, 32  # MiB: high boots (checked), low is assumed not to
        if not _boots_with(rig, image.elf, high):
            raise RuntimeError("pyunik does not boot with memory = 32")
        while high - low > 1:
            mid = (low + high) // 2
            if _boots_with(rig, image.elf, mid):
                high = mid
            else:
                low = mid
    good = [t for t in prompt if t is not None]
    floor_good = [t for t in floor_times if t is not None]
    return {
        "rig_boot_s": round(boot, 2),
        "create_to_prompt_s": [round(t, 3) for t in good],
        "create_to_prompt_median_s": round(statistics.median(good), 3),
        "floor_create_to_line_s": [round(t, 3) for t in floor_good],
        "floor_median_s": round(statistics.median(floor_good), 3),
        "ratio_prompt_to_floor": round(statistics.median(good) / statistics.median(floor_good), 3),
        "least_memory_mib": high,
        "image_bytes": image.stripped.stat().st_size,
    }


def chart(result: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    labels = ["floor: first line", "pyunik: first >>>"]
    series = [result["floor_create_to_line_s"], result["create_to_prompt_s"]]
    medians = [result["floor_median_s"], result["create_to_prompt_median_s"]]
    ax.barh(labels, medians, color=["#999", "#2a7"])
    for y, values in enumerate(series):
        ax.plot(values, [y] * len(values), "k.", alpha=0.6)  # type: ignore[arg-type]
        ax.text(float(medians[y]), y + 0.25, f" {medians[y]} s")  # type: ignore[arg-type]
    ax.set_xlabel("seconds from xl create (Xen 4.17 under QEMU TCG)")
    ax.set_title(f"Xen PVH domU; least memory = {result['least_memory_mib']} MiB")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=build.BUILD_ROOT / "bench")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = measure(args.runs)
    (args.out / "xen.json").write_text(json.dumps({"benchmark": "xen", **result}, indent=2) + "\n")
    chart(result, args.out / "xen.png")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
