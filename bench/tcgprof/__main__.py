"""python3 -m bench.tcgprof: see the package's docstring."""

from __future__ import annotations

import argparse
import bisect
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench import common, interpreter, unixport

PLUGIN_SOURCE = Path(__file__).with_name("tbcount.c")
OUT = common.ROOT / "build" / "tcgprof"


def plugin() -> Path:
    """The plugin, compiled when its source is newer."""
    so = OUT / "tbcount.so"
    if not so.exists() or so.stat().st_mtime < PLUGIN_SOURCE.stat().st_mtime:
        OUT.mkdir(parents=True, exist_ok=True)
        common.check(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", so, PLUGIN_SOURCE], 120, what="gcc tbcount.c")
    return so


def program(tasks: int) -> str:
    return common.program("asyncio_tasks.py") + f"\nmain({tasks}, 1, 1)\n"


def counts(path: Path) -> Counter[int]:
    """Instructions executed per block start address."""
    total: Counter[int] = Counter()
    for line in path.read_text().splitlines():
        vaddr, n_insns, runs = line.split()
        total[int(vaddr, 16)] += int(n_insns) * int(runs)
    return total


def on_pyunik(board: str, tasks: int) -> Counter[int]:
    out = OUT / f"pyunik-{board}-{tasks}.txt"
    out.unlink(missing_ok=True)
    argv = [*common.pyunik_argv(board), "-plugin", f"{plugin()},out={out}"]
    with common.Console(argv) as console:
        console.expect_or_fail(b">>> ", 60)
        _, err, _ = common.raw_exec(console, program(tasks), 600)
        if err.strip():
            raise common.BenchError(f"pyunik: {err.strip()[-500:]}")
        # A clean QEMU exit, so that the plugin writes its counts.
        console.write(b"\r\x01")
        console.expect_or_fail(common.RAW_REPL_BANNER, 30)
        console.write(b"import machine\nmachine.deepsleep()\n\x04")
        if console.wait_exit(60) is None:
            raise common.BenchError("pyunik did not power off")
    return counts(out)


def on_qemu_user(tasks: int) -> Counter[int]:
    out = OUT / f"qemu-user-{tasks}.txt"
    script = OUT / "asyncio_profile.py"
    script.write_text(program(tasks))
    heap = interpreter.pyunik_heap()
    argv = [unixport.QEMU_USER, "-plugin", f"{plugin()},out={out}", str(unixport.build()), "-X", f"heapsize={heap}"]
    done = common.run([*argv, str(script)], 600, env=unixport.env())
    if done.returncode != 0:
        raise common.BenchError(f"qemu-user: exit {done.returncode}: {done.stdout[-500:]!r}")
    return counts(out)


def functions(elf: Path) -> tuple[list[int], list[str]]:
    """Start addresses and names of the sized functions, sorted."""
    out = subprocess.run(["nm", "-n", "-S", "--defined-only", str(elf)], capture_output=True, text=True, check=True)
    starts: list[int] = []
    names: list[str] = []
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tTwW":
            starts.append(int(fields[0], 16))
            names.append(fields[3])
    return starts, names


def by_function(per_block: Counter[int], elf: Path) -> Counter[str]:
    starts, names = functions(elf)
    result: Counter[str] = Counter()
    for vaddr, n in per_block.items():
        i = bisect.bisect_right(starts, vaddr) - 1
        result[names[i] if i >= 0 else hex(vaddr)] += n
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.tcgprof", description=__doc__)
    parser.add_argument("--board", default="qemu-microvm")
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    try:
        work = on_pyunik(args.board, args.tasks)
        work.subtract(on_pyunik(args.board, 0))
        user = on_qemu_user(args.tasks)
        user.subtract(on_qemu_user(0))
    except common.BenchError as exc:
        print(f"tcgprof: {exc}", file=sys.stderr)
        return 1
    per_task = sum(work.values()) / args.tasks
    print(f"guest instructions per asyncio task (spawned and completed, batches of 100), {args.tasks} tasks:")
    print(f"  pyunik/{args.board}: {per_task:,.0f}")
    print(f"  unix port under qemu-user: {sum(user.values()) / args.tasks:,.0f}")
    print("pyunik by function (per task, share):")
    ranked = by_function(work, common.image(args.board).elf)
    for name, n in ranked.most_common(args.top):
        print(f"  {n / args.tasks:9.1f}  {100 * n / sum(work.values()):5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
