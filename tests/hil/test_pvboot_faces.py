"""pvboot has two public faces, pvboot.h (the port's) and pvboot_driver.h
(the drivers'), and nothing else of it is public.

Checked on the objects of a real build (the networking board, which has the
most drivers, and xen-pvh): every pvboot symbol a module's object file
needs is declared in one of the two headers, and no module includes any
other file of port/pvboot/.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pyunik.board import ROOT

PVBOOT = ROOT / "port" / "pvboot"
PUBLIC = ("pvboot.h", "pvboot_driver.h")


def declared() -> set[str]:
    """Names the two public headers declare (functions, inline or not)."""
    names: set[str] = set()
    for header in PUBLIC:
        text = (PVBOOT / header).read_text()
        names |= set(re.findall(r"\b(pvboot_\w+)\s*\(", text))
    return names


def symbols(obj: Path, undefined: bool) -> set[str]:
    flag = "--undefined-only" if undefined else "--defined-only"
    # gcc-nm reads the symbol tables of LTO objects too.
    out = subprocess.run(["gcc-nm", flag, str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("board", ["qemu-microvm-net", "xen-pvh"])
def test_modules_use_only_the_public_faces(image_for, board: str) -> None:  # type: ignore[no-untyped-def]
    image = image_for(board)
    pvboot_defined = set().union(*(symbols(o, undefined=False) for o in (image.build_dir / "pvboot").glob("*.o")))
    public = declared()
    modules = sorted((image.build_dir / "modules").rglob("*.o"))
    assert modules, "no module objects were built"
    for obj in modules:
        needed = symbols(obj, undefined=True) & pvboot_defined
        private = sorted(needed - public)
        assert not private, f"{obj.relative_to(image.build_dir)} uses pvboot internals: {private}"


def test_no_module_includes_a_private_pvboot_file() -> None:
    private = {p.name for p in PVBOOT.glob("*.h")} - set(PUBLIC)
    assert "pvboot_internal.h" in private
    offenders = []
    for source in (ROOT / "modules").rglob("*.[ch]"):
        for name in re.findall(r'#include\s+[<"]([^>"]+)[>"]', source.read_text()):
            if Path(name).name in private or "pvboot/" in name:
                offenders.append(f"{source.relative_to(ROOT)}: {name}")
    assert not offenders, offenders
