"""The guest's virtqueue code, and the virtio-rng driver on it, against a hostile device, on the host.

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


def test_virtio_rng_against_hostile_and_silent_devices(tmp_path: Path) -> None:
    """tests/unit/c/virtio_rng_hostile.c: the virtio-rng driver, through the
    entropy device it registers with pvboot, against good, short, empty,
    wrong-id, oversized, silent and 2000 random answers."""
    virtio = ROOT / "modules" / "virtio"
    rng = ROOT / "modules" / "virtio_rng"
    harness = hostharness.C / "virtio_rng_hostile.c"
    result = hostharness.run(
        "virtio_rng_hostile",
        [harness, virtio / "virtqueue.c", virtio / "virtio.c"],
        [virtio, rng, hostharness.C / "include"],
        tmp_path,
    )
    assert result.returncode == 0
    assert "0 failures" in result.stdout
    assert hostharness.ok_lines(result.stdout) >= 18
    # A device that never answers: a bounded wait and one line, not a hang.
    assert "virtio-rng: virtio-mmio@fake: no answer in 5000 ms; the device is no longer used" in result.stdout
