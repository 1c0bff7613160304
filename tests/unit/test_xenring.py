"""Xen blkfront's and netfront's ring parsing against a hostile backend, on the host.

tests/unit/c/blkfront_hostile.c and netfront_hostile.c include the driver's
C file whole (its submit/poll/transmit are static) with stand-ins for
xenstore, pvboot and the netif/block layers, and write the shared rings as
a buggy or malicious backend would: response indices ahead or behind, slot
ids unknown, stale, mismatched or not in flight, offsets and lengths beyond
the page, 2000 random rings; and they move the backend to Closing/Closed
with I/O in flight. Under AddressSanitizer and UBSan: every case must stop
the device with one clear line (or drop the bad frame) and touch no memory
outside the rings and their pages. The Xen console and xenstore rings have
harnesses of their own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pyunik.board import ROOT

C = Path(__file__).parent / "c"
#: harness -> (the driver's module folder, the layer it feeds, checks it makes)
HARNESSES = {
    "blkfront_hostile": ("xen_blkfront", "block", 17),
    "netfront_hostile": ("xen_netfront", "lwip", 14),
}


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_hostile_xen_rings_never_corrupt_memory(name: str, tmp_path: Path) -> None:
    driver, layer, checks = HARNESSES[name]
    binary = tmp_path / name
    subprocess.run(
        [
            "gcc",
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-Wall",
            "-Werror",
            f"-I{C / 'include'}",  # a py/mperrno.h without MicroPython's configuration
            f"-I{ROOT / 'modules' / 'xen'}",
            f"-I{ROOT / 'modules' / driver}",
            f"-I{ROOT / 'modules' / layer}",
            f"-I{ROOT / 'port' / 'pvboot'}",
            "-o",
            str(binary),
            str(C / f"{name}.c"),
        ],
        check=True,
    )
    # The harness's ring pages are never freed, as in the guest.
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    result = subprocess.run([str(binary)], capture_output=True, text=True, env=env, timeout=120)
    print(result.stdout[-3000:], result.stderr[-3000:])
    assert result.returncode == 0
    assert "\n0 failures" in result.stdout
    assert result.stdout.count("\nok ") + result.stdout.startswith("ok ") >= checks
