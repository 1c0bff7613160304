"""The guest's Xen ring code against a hostile backend, on the host.

tests/unit/c/xen_rings_hostile.c links modules/xen/xenstore.c,
xen_console.c and gnttab.c with fake hypercalls and event channels (and
tests/unit/c/xen_shim/pvboot_driver.h, which makes interrupt masking a
no-op in a Linux process) and writes the shared pages as a buggy or
malicious xenstored, xenconsoled or netback would: requests and replies
beyond XENSTORE_PAYLOAD_MAX, producer indices more than a ring ahead or
behind, 500 random xenstore rings and 500 random console states, grants
ended while the backend maps them. Under AddressSanitizer and UBSan:
every case must end in an error or one line, never a read or write
outside the rings and the guest's buffers.
"""

from __future__ import annotations

from pathlib import Path

import hostharness

from pyunik.board import ROOT

C = hostharness.C


def test_hostile_xen_rings_never_corrupt_memory(tmp_path: Path) -> None:
    xen = ROOT / "modules" / "xen"
    sources = [C / "xen_rings_hostile.c", xen / "xenstore.c", xen / "xen_console.c", xen / "gnttab.c"]
    result = hostharness.run("xen_rings_hostile", sources, [C / "xen_shim", xen], tmp_path)
    assert result.returncode == 0
    assert "22 checks, 0 failures" in result.stdout
    # Each hostile case said what the backend did, in one line.
    assert result.stdout.count("the backend broke the ring protocol") == 9
    # A backend that stops answering: a timeout and one line, not a hang.
    assert "no answer from the backend within 10 s" in result.stdout
    assert "took no output for 2 s" in result.stdout
