"""Xen blkfront's ring parsing against a hostile backend, on the host.

tests/unit/c/blkfront_hostile.c includes modules/xen_blkfront/blkfront.c
whole (its submit and poll are static) with stand-ins for xenstore and
pvboot, and writes the shared ring as a buggy or malicious backend would
(response indices ahead or behind, unknown, stale or mismatched ids, 2000
random rings), and moves the backend to Closing with a request in flight;
under AddressSanitizer and UBSan: every case must stop the disk with one
clear error and touch no memory outside the ring. The Xen console and
xenstore rings have harnesses of their own; netfront's rx/tx parsing
(vif_poll, reclaim_tx) can be driven the same way.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pyunik.board import ROOT

HARNESS = Path(__file__).parent / "c" / "blkfront_hostile.c"


def test_hostile_blkif_rings_never_corrupt_memory(tmp_path: Path) -> None:
    binary = tmp_path / "blkfront_hostile"
    subprocess.run(
        [
            "gcc",
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-Wall",
            "-Werror",
            f"-I{HARNESS.parent / 'include'}",  # a py/mperrno.h without MicroPython's configuration
            f"-I{ROOT / 'modules' / 'xen'}",
            f"-I{ROOT / 'modules' / 'xen_blkfront'}",
            f"-I{ROOT / 'modules' / 'block'}",
            f"-I{ROOT / 'port' / 'pvboot'}",
            "-o",
            str(binary),
            str(HARNESS),
        ],
        check=True,
    )
    # The harness's ring pages are never freed, as in the guest.
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    result = subprocess.run([str(binary)], capture_output=True, text=True, env=env, timeout=120)
    print(result.stdout[-3000:], result.stderr[-3000:])
    assert result.returncode == 0
    assert "\n0 failures" in result.stdout
    assert result.stdout.count("\nok ") + result.stdout.startswith("ok ") >= 17
