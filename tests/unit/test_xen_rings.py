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

import os
import subprocess
from pathlib import Path

from pyunik.board import ROOT

C = Path(__file__).parent / "c"


def test_hostile_xen_rings_never_corrupt_memory(tmp_path: Path) -> None:
    binary = tmp_path / "xen_rings_hostile"
    xen = ROOT / "modules" / "xen"
    subprocess.run(
        [
            "gcc",
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-Wall",
            "-Werror",
            f"-I{C / 'xen_shim'}",
            f"-I{xen}",
            f"-I{ROOT / 'port' / 'pvboot'}",
            "-o",
            str(binary),
            str(C / "xen_rings_hostile.c"),
            str(xen / "xenstore.c"),
            str(xen / "xen_console.c"),
            str(xen / "gnttab.c"),
        ],
        check=True,
    )
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    result = subprocess.run([str(binary)], capture_output=True, text=True, env=env, timeout=120)
    print(result.stdout[-4000:], result.stderr[-3000:])
    assert result.returncode == 0
    assert "18 checks, 0 failures" in result.stdout
    # Each hostile case said what the backend did, in one line.
    assert result.stdout.count("the backend broke the ring protocol") == 8
