"""A C buffer overflow on the stack is caught by its canary: one line, status 126.

No test hook is built into the image: the test does what an overflow does,
with ordinary MicroPython. machine.mem32 reads the guard word
(__stack_chk_guard, its address from the ELF) and changes every copy of
it on the C stack (pvboot.layout() says where the stack is this boot), so
the first protected C function that returns finds its canary changed.
"""

from __future__ import annotations

import subprocess

from conftest import BOARD, Guest, Repl

from pyunik import vm


def symbol(elf: str, name: str) -> int:
    symbols = subprocess.run(["nm", elf], capture_output=True, text=True, check=True).stdout
    return next(int(line.split()[0], 16) for line in symbols.splitlines() if line.endswith(f" {name}"))


def test_the_image_is_built_with_canaries(image_for) -> None:  # type: ignore[no-untyped-def]
    # Hundreds of functions check the guard on return (-fstack-protector-strong).
    elf = str(image_for(BOARD).elf)
    disassembly = subprocess.run(["objdump", "-d", elf], capture_output=True, text=True, check=True).stdout
    checks = [line for line in disassembly.splitlines() if "call" in line and "<__stack_chk_fail>" in line]
    assert len(checks) > 100


READ64 = "(lambda a: machine.mem32[a] | machine.mem32[a + 4] << 32)"


def test_the_guard_is_set_at_boot(repl: Repl, guest: Guest, image_for) -> None:  # type: ignore[no-untyped-def]
    elf = str(image_for(BOARD).elf)
    guard = symbol(elf, "__stack_chk_guard")
    value = int(repl.run(f"import machine; print({READ64}({guard:#x}))").strip())
    link_time = 0x2F8C6B09D4A5E300  # canary.c's placeholder
    assert value != link_time and value != 0
    assert value & 0xFF == 0  # the terminator byte


def test_a_smashed_canary_stops_the_vm_with_a_clear_line(repl: Repl, guest: Guest, image_for) -> None:  # type: ignore[no-untyped-def]
    guard = symbol(str(image_for(BOARD).elf), "__stack_chk_guard")
    repl.run("import machine, pvboot")
    repl.run(f"r = {READ64}; g = r({guard:#x}); lo, hi = pvboot.layout()[:2]")
    # Find every copy first, then overwrite them: the frames of the C
    # functions running this statement are among them, and the first of
    # them to return checks its canary.
    repl.line("for a in [a for a in range(lo, hi, 8) if r(a) == g]: machine.mem32[a + 4] ^= 0x5a\r")
    repl.expect("pvboot: stack smashing detected: a function's canary was overwritten", timeout=60)
    assert guest.wait(timeout=30) == vm.EXIT_STACK_SMASH
