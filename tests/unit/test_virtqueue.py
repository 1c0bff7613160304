"""The guest's virtqueue code against a hostile device, on the host.

tests/unit/c/virtqueue_hostile.c links modules/virtio/virtqueue.c and
virtio.c with a fake transport and writes the used ring as a buggy or
malicious backend would (indices running ahead, unknown or repeated ids,
lengths beyond the buffers, 2000 random rings), under AddressSanitizer and
UBSan: every case must mark the device broken and touch no memory outside
the rings.
"""

from __future__ import annotations

from pathlib import Path

import hostharness

from pyunik.board import ROOT

HARNESS = hostharness.C / "virtqueue_hostile.c"


def test_hostile_used_rings_never_corrupt_memory(tmp_path: Path) -> None:
    virtio = ROOT / "modules" / "virtio"
    result = hostharness.run(
        "virtqueue_hostile", [HARNESS, virtio / "virtqueue.c", virtio / "virtio.c"], [virtio], tmp_path
    )
    assert result.returncode == 0
    assert "0 failures" in result.stdout
    assert hostharness.ok_lines(result.stdout) >= 14
