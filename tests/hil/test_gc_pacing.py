"""GC pacing (port/gcpace.c): the next collection comes after as much
allocation as the heap in use spans, at least 128 KiB; gc.threshold() takes over."""

from __future__ import annotations

from conftest import Repl

MIN_BYTES = 128 * 1024


def threshold(repl: Repl) -> int:
    return int(repl.run("print(gc.threshold())").strip())


def test_threshold_follows_the_heap_in_use(repl: Repl) -> None:
    repl.run("import gc; gc.collect()")
    assert threshold(repl) == MIN_BYTES  # a fresh REPL keeps far less alive
    # Keep 2 MiB alive: the next collection waits for at least as much allocation.
    repl.run("keep = [bytearray(1024) for _ in range(2048)]; gc.collect(); live = gc.mem_alloc()")
    live = int(repl.run("print(live)").strip())
    paced = threshold(repl)
    assert live >= 2 * 1024 * 1024 and paced >= live, (live, paced)


def test_collections_happen_without_gc_collect(repl: Repl) -> None:
    # 4 MiB of garbage in 1 KiB pieces: with pacing, collections run every
    # 128 KiB or so, and the heap in use never grows anywhere near 4 MiB.
    repl.run("import gc; gc.collect(); m0 = gc.mem_alloc()")
    repl.run('exec("for _ in range(4096):\\n b = bytearray(1024)")')
    grown = int(repl.run("print(gc.mem_alloc() - m0)").strip())
    assert 0 < grown < 512 * 1024, grown


def test_gc_threshold_takes_over(repl: Repl) -> None:
    repl.run("import gc; gc.threshold(50000); gc.collect()")
    assert threshold(repl) == 50000 // 32 * 32  # whole 32-byte blocks
    repl.run("keep = [bytearray(1024) for _ in range(2048)]; gc.collect(); keep = None")
    assert threshold(repl) == 50000 // 32 * 32  # pacing left it alone
    repl.run("gc.threshold(-1)")
    assert threshold(repl) == -1
