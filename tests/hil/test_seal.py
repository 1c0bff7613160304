"""The sealed image refuses what W^X page tables forbid (issue 16).

Each probe (bench/seal.py's PROBES, which `invoke bench --only seal` also
counts) boots the default board, types a few lines of ordinary MicroPython -
machine.mem8/32 writes and reads, a viper function whose code pointer is
pointed elsewhere - and must end in pvboot's page-fault line, the register
dump and QEMU status 251 (pyunik's 125). On an unsealed image (seal = false)
the same lines run without a fault (the bench shows it), so each of these can
fail.
"""

from __future__ import annotations

import pytest
from conftest import BOARD, Guest, Repl

from bench import seal
from pyunik import vm


@pytest.mark.parametrize("name", seal.PROBES)
def test_probe_faults(image_for, name: str) -> None:  # type: ignore[no-untyped-def]
    result = seal.run_probe(image_for(BOARD), name)
    print(f"\n{name}: {result.detail}")
    assert result.faulted, result.detail


def test_native_code_runs_from_the_arena_and_survives_a_soft_reset(repl: Repl) -> None:
    # Viper and native functions run; their code lies outside the heap (the
    # arena pvboot keeps read-execute); a soft reset empties the arena and
    # new functions run again from it.
    define = (
        'exec("@micropython.viper\\ndef v(x: int) -> int:\\n    return x * 3\\n'
        '@micropython.native\\ndef n(x):\\n    return x + 1\\n")'
    )
    repl.run("import gc, machine, micropython, uctypes")
    repl.run(define)
    assert repl.run("print(v(14), n(41))").strip() == "42 42"
    where = "machine.mem32[id(v) + 24] | machine.mem32[id(v) + 28] << 32"
    first = int(repl.run(f"print({where})").strip())
    heap = repl.run("b = bytearray(16); print(uctypes.addressof(b))").strip()
    assert abs(first - int(heap)) > 4096 * 4, (first, heap)
    repl.keys("\x04")
    repl.expect(">>> ")
    repl.run("import machine, micropython")
    repl.run(define)
    assert repl.run("print(v(14), n(41))").strip() == "42 42"
    assert int(repl.run(f"print({where})").strip()) == first  # the arena started over


def test_after_sealing_only_the_boot_time_device_mappings_are_given(repl: Repl, guest: Guest) -> None:
    # The page tables are read-only before any Python runs: pvboot.mmio_map
    # hands out a range a driver mapped at boot (the local APIC's registers,
    # mapped by pvboot's interrupt set-up) and refuses a new one - the HPET's
    # address, which nothing on this board maps - with one line on the
    # console and an OSError, and the range stays unmapped.
    repl.run("import machine, pvboot")
    assert repl.run("print(hex(pvboot.mmio_map(0xfee00000, 4096)))").strip() == "0xfee00000"
    refused = repl.run(
        "exec(\"try:\\n pvboot.mmio_map(0xfed00000, 4096)\\nexcept OSError as e:\\n print('REFUSED', e)\")"
    )
    assert "pvboot: device memory fed00000+1000 asked for after the page tables were sealed" in refused, refused
    assert "REFUSED cannot map device memory fed00000+1000" in refused, refused
    assert repl.run("print(1 + 1)").strip() == "2"  # nothing else was lost
    repl.line("machine.mem32[0xfed00000]")
    repl.expect("pvboot: page fault: read of an unmapped page at fed00000")
    assert guest.wait(timeout=20) == vm.EXIT_FAULT
