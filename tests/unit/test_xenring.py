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

from pathlib import Path

import hostharness
import pytest

from pyunik.board import ROOT

C = hostharness.C
#: harness -> (the driver's module folder, the layer it feeds, checks it makes)
HARNESSES = {
    "blkfront_hostile": ("xen_blkfront", "block", 17),
    "netfront_hostile": ("xen_netfront", "lwip", 14),
}


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_hostile_xen_rings_never_corrupt_memory(name: str, tmp_path: Path) -> None:
    driver, layer, checks = HARNESSES[name]
    modules = ROOT / "modules"
    # C / "include": a py/mperrno.h without MicroPython's configuration.
    includes = [C / "include", modules / "xen", modules / driver, modules / layer]
    result = hostharness.run(name, [C / f"{name}.c"], includes, tmp_path)
    assert result.returncode == 0
    assert "\n0 failures" in result.stdout
    assert hostharness.ok_lines(result.stdout) >= checks
