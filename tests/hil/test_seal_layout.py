"""Each boot places the C stack and the GC heap differently and seeds `random` differently (issue 16).

Two boots of the default image, each asked at its REPL for pvboot.layout()
and one random.getrandbits(32). The entropy over 200 boots is measured in
the bench (`invoke bench --only entropy`), not here: two boots that differ
are what a test can show.
"""

from __future__ import annotations

from conftest import BOARD, Guest, Repl

from pyunik import vm

ASK = b"import pvboot, random; print('LAYOUT', *pvboot.layout(), random.getrandbits(32))\r"


def ask_one_boot(image_for, cpu: list[str], question: bytes) -> bytes:  # type: ignore[no-untyped-def]
    image = image_for(BOARD)
    command = vm.qemu_command(image.board, image.elf, serial="stdio", plugin_args=image.qemu_args, extra=cpu)
    guest = Guest(image.board, vm.start_with_pty(command), command.argv)
    try:
        port = guest.console(timeout=20)
        assert port.read_until(b">>> ").endswith(b">>> ")
        port.write(question)
        reply = port.read_until(b">>> ")
        port.close()
    finally:
        guest.stop()
    return reply


def layout_of_one_boot(image_for, cpu: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    reply = ask_one_boot(image_for, cpu, ASK).decode()
    line = next(x for x in reply.splitlines() if x.startswith("LAYOUT "))
    # LAYOUT stack_bottom stack_top heap_start heap_pool heap_end source stack_pos heap_pos random
    return line.split()


def test_two_boots_differ_in_stack_top_heap_base_and_random_seed(image_for) -> None:  # type: ignore[no-untyped-def]
    for cpu, source in (([], "tsc-jitter"), (["-cpu", "max"], "rdrand")):
        first = layout_of_one_boot(image_for, cpu)
        second = layout_of_one_boot(image_for, cpu)
        assert first[6] == second[6] == source
        for i in (2, 3, 4, 9):  # stack top, heap start, heap objects, random.getrandbits(32)
            assert first[i] != second[i], (cpu, i, first, second)
        # 1 MiB in 16-byte steps for each on the 32M board: 16 bits.
        assert int(first[7]) == int(first[8]) == 65536


def test_the_randomly_placed_stack_has_a_guard_page(repl: Repl, guest: Guest) -> None:
    bottom = int(repl.run("import pvboot, machine; print(pvboot.layout()[0])").strip())
    guard = bottom - 4096
    repl.line(f"machine.mem32[{guard + 0xFF8:#x}]")
    repl.expect("pvboot: stack overflow: the C stack (48 KiB) ran into its guard page\r\n")
    repl.expect(f"CR2 {guard + 0xFF8:016x}")
    assert guest.wait(timeout=20) == vm.EXIT_FAULT


def test_os_urandom_takes_rdrand_and_refuses_without_it(image_for) -> None:  # type: ignore[no-untyped-def]
    question = b"import os; b = os.urandom(16); print(len(b), len(set(b)) > 4)\r"
    assert b"OSError: os.urandom: this CPU has no RDRAND or RDSEED" in ask_one_boot(image_for, [], question)
    assert b"16 True" in ask_one_boot(image_for, ["-cpu", "max"], question)
