"""asyncio (issue 4): tasks spawned and completed per second, and Event ping-pong round trips per second.

One program (bench/programs/asyncio_tasks.py) runs on three platforms in one go:

- pyunik under QEMU TCG (pasted over the raw REPL of a fresh boot), with its
  interrupts, one-shot timer and tickless idle in place;
- the unix port from the same tree under qemu-user (the same TCG translator,
  no softmmu);
- that unix port inside the Linux guest (bench/linux.py) under the same
  qemu-system TCG as pyunik: the like-for-like comparison.

The unix port runs in both its builds (bench/unixport.py): as upstream
configures it ("qemu-user", "linux-guest") and with pyunik's interpreter
settings ("qemu-user/tuned", "linux-guest/tuned"), so that each ratio splits
into platform and configuration.

All get the same heap (pyunik's at the board's -m), since the cost of
an allocation - and so of a task or an Event wait - depends on it (see the
program's header). Each platform runs the program a few times, alternating
with the others; each figure is the median over all their rounds, timed by
the guest's own ticks_us. The goal in issue 4: pyunik at least 1.6x the
Linux guest and at least 1.0x qemu-user, read against the tuned build (the
configuration being equal, what is left is the platform).
"""

from __future__ import annotations

import re
from typing import Any

from bench import common, interpreter, linux, unixport
from bench.common import Stats

#: Goals, against the tuned unix port; the upstream build's ratios are reported beside them.
GOALS = {"linux-guest/tuned": 1.6, "qemu-user/tuned": 1.0}
BASES = ("linux-guest", "linux-guest/tuned", "qemu-user", "qemu-user/tuned")
LINUX_MEMORY = linux.MEMORY
TIMEOUT = 300.0
_LINE = re.compile(r"^RESULT (\w+) ([\d ]+)$", re.M)


def parse(output: str) -> dict[str, list[list[int]]]:
    found: dict[str, list[list[int]]] = {}
    for name, numbers in _LINE.findall(output.replace("\r", "")):
        found.setdefault(name, []).append([int(x) for x in numbers.split()])
    if "spawn" not in found or "pingpong" not in found:
        raise common.BenchError(f"no RESULT lines in: {output[-500:]!r}")
    return found


def on_pyunik(board: str, args: tuple[int, int, int]) -> dict[str, list[list[int]]]:
    code = common.program("asyncio_tasks.py") + f"\nmain({args[0]}, {args[1]}, {args[2]})\n"
    with common.Console(common.pyunik_argv(board)) as console:
        console.expect_or_fail(b">>> ", 30)
        out, err, _ = common.raw_exec(console, code, TIMEOUT)
    if err.strip():
        raise common.BenchError(f"pyunik: {err.strip()[-500:]}")
    return parse(out)


def on_qemu_user(heap: int, args: tuple[int, int, int], which: str) -> dict[str, list[list[int]]]:
    argv = unixport.qemu_user_argv(heap, common.PROGRAMS / "asyncio_tasks.py", *map(str, args), which=which)
    done = common.run(argv, TIMEOUT, env=unixport.env())
    if done.timed_out or done.returncode != 0:
        raise common.BenchError(f"qemu-user: exit {done.returncode}: {done.stdout[-500:]!r}")
    return parse(done.stdout.decode(errors="replace"))


def on_linux(heap: int, args: tuple[int, int, int], which: str) -> dict[str, list[list[int]]]:
    init_args = f"-X heapsize={heap} /bench/asyncio_tasks.py {args[0]} {args[1]} {args[2]}"
    last = ""
    for _ in range(2):  # a second try if the kernel hangs calibrating the TSC (see boot_time)
        with common.Console(linux.argv("qemu-microvm", LINUX_MEMORY, init_args, build=which)) as console:
            done = console.wait_exit(TIMEOUT)
            output = console.buffer.decode(errors="replace")
            if done is not None and done[0] == 1:
                return parse(output)
            last = f"QEMU status {None if done is None else done[0]}: {output[-500:]!r}"
    raise common.BenchError(f"linux guest: {last}")


def summarise(raw: dict[str, list[list[int]]]) -> dict[str, Any]:
    spawn = Stats.of([count / (us / 1e6) for count, us in raw["spawn"]])
    ping = Stats.of([count / (us / 1e6) for count, us in raw["pingpong"]])
    entry: dict[str, Any] = {
        "spawn_tasks_per_s": spawn.as_dict(1, 0),
        "pingpong_round_trips_per_s": ping.as_dict(1, 0),
        "raw": raw,
    }
    if "idle" in raw:
        halts, interrupts, timer = (sum(col) for col in zip(*raw["idle"], strict=True))
        entry["idle_during_runs"] = {"halts": halts, "interrupts": interrupts, "timer_interrupts": timer}
    return entry


def run(quick: bool) -> dict[str, object]:
    args = (5000, 1000, 2) if quick else (20000, 5000, 3)
    invocations = 2 if quick else 3
    heap = interpreter.pyunik_heap()
    up, tuned = unixport.UPSTREAM, unixport.TUNED
    runners = {
        "pyunik/qemu-microvm": lambda: on_pyunik("qemu-microvm", args),
        "qemu-user": lambda: on_qemu_user(heap, args, up),
        "qemu-user/tuned": lambda: on_qemu_user(heap, args, tuned),
        "linux-guest": lambda: on_linux(heap, args, up),
        "linux-guest/tuned": lambda: on_linux(heap, args, tuned),
    }
    if not quick:
        runners["pyunik/qemu-q35"] = lambda: on_pyunik("qemu-q35", args)
    # Invocations alternate between the platforms, so that a busy moment on
    # the host (other jobs share it) does not land on one platform only.
    raw: dict[str, dict[str, list[list[int]]]] = {name: {} for name in runners}
    errors: dict[str, str] = {}
    for i in range(invocations):
        for name, runner in runners.items():
            if name in errors:
                continue
            common.log(f"asyncio on {name} ({i + 1}/{invocations})")
            try:
                for key, rows in runner().items():
                    raw[name].setdefault(key, []).extend(rows)
            except common.BenchError as exc:
                errors[name] = str(exc)[:800]
    platforms: dict[str, Any] = {}
    for name in runners:
        if name in errors:
            platforms[name] = {"error": errors[name]}
            continue
        platforms[name] = summarise(raw[name])
        common.log(
            f"asyncio {name}: {platforms[name]['spawn_tasks_per_s']['median']:.0f} tasks/s, "
            f"{platforms[name]['pingpong_round_trips_per_s']['median']:.0f} round trips/s"
        )
    ratios: dict[str, float | None] = {}
    goals: dict[str, bool] = {}
    base = platforms.get("pyunik/qemu-microvm", {})
    for other in BASES:
        for metric in ("spawn_tasks_per_s", "pingpong_round_trips_per_s"):
            key = f"{metric}: pyunik / {other}"
            value = None
            if metric in base and metric in platforms.get(other, {}):
                value = common.ratio(base[metric]["median"], platforms[other][metric]["median"])
            ratios[key] = value
            if other in GOALS:
                goals[f"{key} >= {GOALS[other]}"] = value is not None and value >= GOALS[other]
    return {
        "what": "asyncio tasks created+completed per second (batches of 100) and Event ping-pong round trips/s",
        "program": "bench/programs/asyncio_tasks.py",
        "args": {"n_spawn": args[0], "n_pingpong": args[1], "rounds": args[2], "invocations": invocations},
        "heap_bytes": heap,
        "linux_memory": LINUX_MEMORY,
        "platforms": platforms,
        "ratio_base": "pyunik/qemu-microvm's median over the named platform's; goals against the tuned unix port",
        "ratios": ratios,
        "goals": goals,
        "unix_port": unixport.describe(),
    }
