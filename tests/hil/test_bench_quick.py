"""The benchmark harness works: `python -m bench --quick` on its cheapest subset.

It checks the plumbing, never the numbers (CI machines differ too much for
that): the floor and pyunik boot to their marker, the Linux guest is
assembled from Debian packages and reaches its prompt, the unix port runs
under qemu-user and inside the Linux guest, the image's link map is read,
and results.json, the PNGs and summary.md are written. The memory bisection
and perf_bench reuse the same pieces and are left to `invoke bench`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyunik import board as boards
from pyunik import vm

SUBSET = "size,boot,asyncio"
#: `--quick` of this subset takes about a minute here, plus builds and one kernel download;
#: on a fresh clone with the host at a load average of 13-15 the size step alone (two
#: builds) took 260 s and 600 s was not enough.
TIMEOUT = 1500


def test_bench_quick_writes_results_and_charts(tmp_path: Path) -> None:
    for tool in (vm.QEMU, "qemu-x86_64"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (./bootstrap.sh installs it)")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", SUBSET, "--out", str(tmp_path)],
        cwd=boards.ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"]["quick"] is True
    for name in SUBSET.split(","):
        assert "error" not in results[name], results[name]
        assert (tmp_path / f"{name}.png").stat().st_size > 0

    size = results["size"]["boards"]["qemu-microvm"]
    assert size["stripped_bytes"] > 0
    assert size["components"]["py (interpreter core)"] > 0

    targets = results["boot"]["targets"]
    for name in ("floor/microvm", "pyunik/qemu-microvm", "pyunik/qemu-q35", "linux/microvm", "linux-bzImage/microvm"):
        assert targets[name]["prompt_ms"]["n"] >= 1, targets[name]
    assert "vmlinux" in targets["linux/microvm"]["argv"], targets["linux/microvm"]["argv"]
    ratios = results["boot"]["ratios"]
    # The headline is prompt over the floor's own prompt; over its exit is the second figure.
    assert ratios["qemu-microvm / floor prompt"] is not None
    assert ratios["qemu-microvm / floor exit"] is not None

    platforms = results["asyncio"]["platforms"]
    for name in ("pyunik/qemu-microvm", "qemu-user", "qemu-user/tuned", "linux-guest", "linux-guest/tuned"):
        assert platforms[name]["spawn_tasks_per_s"]["median"] > 0, platforms[name]
        assert platforms[name]["pingpong_round_trips_per_s"]["median"] > 0, platforms[name]

    assert any(key.endswith("linux-guest/tuned >= 1.6") for key in results["asyncio"]["goals"])

    summary = (tmp_path / "summary.md").read_text()
    assert "| boot to `>>>`, qemu-microvm" in summary
    assert "unix port tuned (goals)" in summary
