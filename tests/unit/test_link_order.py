"""tools/link_order.py: the function order `invoke build --seed N` links in.

From a GNU ld map it takes every .text.NAME input section once (whether
the name shares its line with address and size or, being long, stands
alone), never the sections pvboot.ld must keep in place, and orders them by
the seed: the same seed the same order, another seed another one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pyunik.board import ROOT

TOOL = ROOT / "tools" / "link_order.py"

MAP = """
.text           0x0000000000100000    0x3e000
 *(.text.boot)
 .text.boot     0x0000000000100000      0x200 build/pvboot/entry.o
 .text.fabs     0x0000000000000000        0x8 build/libc/math_extra.o
 .text.a_function_with_a_long_name
                0x0000000000000000       0x18 /tmp/ccX.ltrans0.ltrans.o
 .text.mp_execute_bytecode.lto_priv.0
                0x0000000000000000     0x2000 /tmp/ccX.ltrans1.ltrans.o
 .text.fabs     0x0000000000000000        0x8 build/libc/other.o
 .text.hypercall
                0x0000000000101000     0x1000 build/pvboot/xen_hypercall.o
 .text          0x0000000000000000       0x40 build/pvboot/exceptions.o
""" + "".join(f" .text.f{i}     0x0 0x10 x.o\n" for i in range(40))


def order(tmp_path: Path, seed: int) -> list[str]:
    path = tmp_path / "firmware.map"
    path.write_text(MAP)
    out = subprocess.run(
        [sys.executable, str(TOOL), "--seed", str(seed), str(path)], capture_output=True, text=True, check=True
    ).stdout
    return [line.strip()[2:-1] for line in out.splitlines() if line.startswith("    *(")]


def test_every_function_section_once_and_the_fixed_ones_left_out(tmp_path: Path) -> None:
    names = order(tmp_path, 1)
    assert sorted(names) == sorted(
        [".text.fabs", ".text.a_function_with_a_long_name", ".text.mp_execute_bytecode.lto_priv.0"]
        + [f".text.f{i}" for i in range(40)]
    )
    assert ".text.boot" not in names and ".text.hypercall" not in names


def test_the_seed_decides_the_order(tmp_path: Path) -> None:
    assert order(tmp_path, 7) == order(tmp_path, 7)
    assert order(tmp_path, 7) != order(tmp_path, 8)


def test_a_map_without_function_sections_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "firmware.map"
    path.write_text(".text 0x0 0x10\n .text 0x0 0x10 a.o\n")
    done = subprocess.run([sys.executable, str(TOOL), "--seed", "1", str(path)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "-ffunction-sections" in done.stderr
