"""The guest's virtqueue code against a hostile device, on the host.

tests/unit/c/virtqueue_hostile.c links modules/virtio/virtqueue.c and
virtio.c with a fake transport and writes the used ring as a buggy or
malicious backend would (indices running ahead, unknown or repeated ids,
lengths beyond the buffers, 2000 random rings), under AddressSanitizer and
UBSan: every case must mark the device broken and touch no memory outside
the rings.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pyunik.board import ROOT

HARNESS = Path(__file__).parent / "c" / "virtqueue_hostile.c"


def test_hostile_used_rings_never_corrupt_memory(tmp_path: Path) -> None:
    binary = tmp_path / "virtqueue_hostile"
    subprocess.run(
        [
            "gcc",
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-Wall",
            "-Werror",
            f"-I{ROOT / 'modules' / 'virtio'}",
            f"-I{ROOT / 'port' / 'pvboot'}",
            "-o",
            str(binary),
            str(HARNESS),
            str(ROOT / "modules" / "virtio" / "virtqueue.c"),
            str(ROOT / "modules" / "virtio" / "virtio.c"),
        ],
        check=True,
    )
    # The harness's ring pages are never freed, as in the guest.
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    result = subprocess.run([str(binary)], capture_output=True, text=True, env=env, timeout=120)
    print(result.stdout[-3000:], result.stderr[-3000:])
    assert result.returncode == 0
    assert "0 failures" in result.stdout
    assert result.stdout.count("\nok ") + result.stdout.startswith("ok ") >= 14
