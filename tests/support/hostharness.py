"""Host-side C harnesses for the device drivers' ring parsers, under ASan and UBSan.

The harnesses in tests/unit/c/ compile a driver's C file (or include it whole)
with stand-ins for pvboot and the layers around it, then act as a hostile
device or backend. :func:`run` builds one with the sanitizers on and runs it;
the caller checks its report.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pyunik.board import ROOT

#: The harnesses' own folder.
C = ROOT / "tests" / "unit" / "c"


def run(
    name: str, sources: Sequence[Path], includes: Sequence[Path], workdir: Path
) -> subprocess.CompletedProcess[str]:
    """Compile ``sources`` (harness first) as ``name`` with ASan+UBSan and ``-Werror``,
    with port/pvboot on the include path after ``includes``, and run it (120 s at most).
    Its stdout and stderr tails are printed so that a failure shows what it found."""
    binary = workdir / name
    flags = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-Wall", "-Werror"]
    include_flags = [f"-I{folder}" for folder in (*includes, ROOT / "port" / "pvboot")]
    subprocess.run(["gcc", *flags, *include_flags, "-o", str(binary), *map(str, sources)], check=True)
    # The harnesses' ring pages are never freed, as in the guest.
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    result = subprocess.run([str(binary)], capture_output=True, text=True, env=env, timeout=120)
    print(result.stdout[-4000:], result.stderr[-3000:])
    return result


def ok_lines(stdout: str) -> int:
    """How many checks the harness reported as passed (lines starting ``ok ``)."""
    return stdout.count("\nok ") + stdout.startswith("ok ")
