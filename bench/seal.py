"""Sealing (issue 16): what W^X page tables and the native arena cost, and that every probe faults.

Two builds of the same board (qemu-microvm), the only difference the board
key ``seal`` (pyunik/board.py): sealed (the default) and ``seal = false``,
which keeps the boot map of 2 MiB read-write-execute pages and native code on
the GC heap. Both have the same interpreter, native emitters and plugins, and
run on the same QEMU with the same command line, alternating, so that host
load hits both alike. Both are built in each link order of SEEDS (`invoke
build --seed`), and each timing's ratio is the geometric mean of its ratios
per link order (each one is in the JSON too). Each ratio is sealed over
unsealed:

- perf_bench: geometric mean of unsealed time / sealed time over the
  programs and link orders that ran on both with the same result (above 1:
  sealed faster); goal >= 0.97;
- asyncio: tasks spawned per second (bench/programs/asyncio_tasks.py),
  sealed / unsealed, medians of 8 boots of 5 rounds a side, goal >= 0.97;
- boot: QEMU start to the first ``>>>``, median sealed / median unsealed of
  16 boots a side, goal <= 1.05;
- image: stripped ELF bytes of the usual link order, sealed / unsealed, goal
  <= 1.05.

Each pair of runs alternates which side goes first (sealed-unsealed, then
unsealed-sealed), so that neither always pays for coming first. Beside the
timings, boot and asyncio also record the CPU time QEMU used (all its
threads): on a shared host the timings mostly measure the load (a run waits
for a CPU), the CPU time what the guest costs. The goals are on the timings;
the CPU-time ratios (same direction as the goals' ratios) say whether a
missed one is the image's cost or the host's load.

The probes (PROBES below; tests/hil/test_seal.py runs the same ones) each
boot the sealed image, do one thing sealing forbids - write to code or to
read-only data, execute data, read page 0, write the page tables or the
descriptor tables (IDT, GDT), run off the C stack - and must end in the fault dump and QEMU status 251 (pyunik's
125). Goal: all of them.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import asyncio_bench, boot, common, interpreter
from bench.common import Stats
from pyunik import build as builder
from pyunik import vm

BOARD = "qemu-microvm"
GOALS = {"perf_bench": 0.97, "asyncio_spawn": 0.97, "boot": 1.05, "image": 1.05}
#: The link orders (`invoke build --seed`, None the usual one) every timing
#: runs over, both sides built with each. Where the linker puts the hot code
#: can move an image's speed under TCG (QEMU chains its translated blocks
#: only within a 4 KiB page) by more than sealing costs, so a ratio from one
#: link order may say how lucky that order was for either side; the mean
#: over several orders says what sealing costs, whatever the placement.
SEEDS: tuple[int | None, ...] = (None, 1, 2, 3, 4)
PROBE_TIMEOUT = 30.0
#: A viper function whose code pointer a probe points elsewhere: calling it
#: then jumps there (fun_viper_call calls the function object's code pointer,
#: the fourth word of mp_obj_fun_bc_t).
VIPER = 'exec("@micropython.viper\\ndef f():\\n    pass\\n")'
#: The machine code a jump target holds: mov rax, rdi; ret (returns the
#: function object itself), so that an unsealed image survives the jump.
RETURN_SELF = "b'\\x48\\x89\\xf8\\xc3'"


def jump_to(target: str) -> list[str]:
    """Lines that point f's code at ``target`` (a Python expression) and call it."""
    return [
        VIPER,
        f"T = {target}; p = id(f) + 24",
        "machine.mem32[p] = T & 0xffffffff; machine.mem32[p + 4] = T >> 32; f()",
    ]


@dataclass(frozen=True)
class Probe:
    """Lines typed at the REPL of a fresh boot; the fault line they must give."""

    lines: tuple[str, ...]
    fault: str  # a regex over the console
    before: str = ""  # printed before the fault, if anything must be


#: {symbol} is the address of an image symbol (from nm), filled in per image.
PROBES: dict[str, Probe] = {
    "write-text": Probe(
        (
            "import machine",
            "t = machine.mem32[id(len) + 8] | machine.mem32[id(len) + 12] << 32",  # len's C function
            "machine.mem8[t] = 0xcc",
        ),
        r"pvboot: page fault: write to a read-only page at [0-9a-f]+ \(\.text\)",
    ),
    "write-frozen-bytecode": Probe(
        (
            "import machine, asyncio",
            "b = machine.mem32[id(asyncio.sleep) + 24] | machine.mem32[id(asyncio.sleep) + 28] << 32",
            "print('frozen bytecode at', hex(b))",
            "machine.mem8[b] = 0",
        ),
        r"pvboot: page fault: write to a read-only page at [0-9a-f]+ \(\.rodata\)",
        before="frozen bytecode at 0x",
    ),
    "write-page-tables": Probe(
        ("import machine", "machine.mem8[{boot_pml4}] = 0"),
        r"pvboot: page fault: write to a read-only page at [0-9a-f]+ \(the page tables\)",
    ),
    "exec-heap": Probe(
        ("import machine, uctypes", f"b = bytearray({RETURN_SELF})", *jump_to("uctypes.addressof(b)")),
        r"pvboot: page fault: execute from a no-execute page at [0-9a-f]+\r\n",
    ),
    "exec-stack": Probe(
        (
            "import machine",
            # The return-self code at the bottom of the C stack, far below what the REPL uses.
            f"for i, v in enumerate({RETURN_SELF}): machine.mem8[{{boot_stack_bottom}} + 256 + i] = v",
            "",
            *jump_to("{boot_stack_bottom} + 256"),
        ),
        r"pvboot: page fault: execute from a no-execute page at 0*{boot_stack_bottom_256}\r\n",
    ),
    "exec-data": Probe(
        ("import machine", *jump_to("{pvboot_start_info_paddr}")),
        r"pvboot: page fault: execute from a no-execute page at 0*{pvboot_start_info_paddr_hex}\r\n",
    ),
    # The descriptor tables: a byte written back unchanged (harmless where
    # it does not fault, as on the unsealed image).
    "write-idt": Probe(
        ("import machine", "a = {pvboot_idt} + 14 * 16", "machine.mem8[a] = machine.mem8[a]"),
        r"pvboot: page fault: write to a read-only page at [0-9a-f]+ \(the IDT\)",
    ),
    "write-gdt": Probe(
        ("import machine", "a = {boot_gdt} + 8", "machine.mem8[a] = machine.mem8[a]"),
        r"pvboot: page fault: write to a read-only page at [0-9a-f]+ \(the GDT\)",
    ),
    "read-page-0": Probe(
        ("import machine", "machine.mem32[0]"),
        r"pvboot: page fault: read of an unmapped page at 0 \(page 0: a NULL pointer\)",
    ),
    "c-stack-overflow": Probe(
        # What a C overflow that the stack check missed does: touch the guard page.
        ("import machine", "machine.mem32[{boot_stack_guard} + 0xff8]"),
        r"pvboot: stack overflow: the C stack \(\d+ KiB\) ran into its guard page",
    ),
    "viper-runs-its-code-is-read-only": Probe(
        (
            "import machine, micropython",
            'exec("@micropython.viper\\ndef f(x: int) -> int:\\n    return x * 3\\n")',
            "print('viper says', f(14))",
            "c = machine.mem32[id(f) + 24] | machine.mem32[id(f) + 28] << 32",
            "machine.mem8[c] = 0x90",
        ),
        r"pvboot: page fault: write to a read-only page at [0-9a-f]+\r\n",
        before="viper says 42",
    ),
}


def symbols(elf: Path) -> dict[str, int]:
    """The image's symbols (nm), name -> address."""
    out = subprocess.run(["nm", str(elf)], capture_output=True, text=True, check=True).stdout
    found: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            found[parts[2]] = int(parts[0], 16)
    return found


def _fill(text: str, syms: dict[str, int]) -> str:
    values = {name: f"{addr:#x}" for name, addr in syms.items() if name.isidentifier()}
    values["boot_stack_bottom_256"] = f"{syms['boot_stack_bottom'] + 256:x}"
    values["pvboot_start_info_paddr_hex"] = f"{syms['pvboot_start_info_paddr']:x}"
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], text)


@dataclass(frozen=True)
class ProbeResult:
    faulted: bool  # the expected fault line, the dump and QEMU's fault status
    status: int | None  # the guest's exit status (None: still running at the deadline)
    detail: str  # what was wrong, or the fault line


def run_probe(image: builder.Image, name: str, wait: float = PROBE_TIMEOUT) -> ProbeResult:
    """Boot ``image``, type the probe, and give the guest ``wait`` seconds to end."""
    probe = PROBES[name]
    syms = symbols(image.elf)
    argv = boot.pyunik_argv(image, extra=["-no-reboot"])
    with common.Console(argv) as console:
        console.expect_or_fail(b">>> ", PROBE_TIMEOUT)
        for line in probe.lines:
            console.send(_fill(line, syms))
        done = console.wait_exit(wait)
        output = console.buffer.decode(errors="replace")
    status = None if done is None else vm.guest_status(done[0])
    fault = re.search(_fill(probe.fault, syms), output)
    problems = []
    if probe.before and probe.before not in output:
        problems.append(f"{probe.before!r} was not printed first")
    if fault is None:
        problems.append("no fault line matching " + _fill(probe.fault, syms))
    if "*** CPU exception" not in output:
        problems.append("no fault dump")
    if status != vm.EXIT_FAULT:
        problems.append(f"exit status {status}, not {vm.EXIT_FAULT}")
    detail = "; ".join(problems) + f"; console tail: {output[-400:]!r}" if problems else fault.group(0).strip()  # type: ignore[union-attr]
    return ProbeResult(faulted=not problems, status=status, detail=detail)


def _sides(i: int) -> tuple[str, str]:
    """Run i's order of the two sides: alternating, so neither always goes first."""
    return ("sealed", "unsealed") if i % 2 == 0 else ("unsealed", "sealed")


Images = dict[str, builder.Image]  # "sealed" / "unsealed" -> the two images of one link order


def _seed_name(seed: int | None) -> str:
    return "usual" if seed is None else str(seed)


def _perf(pairs: dict[str, Images], quick: bool) -> dict[str, Any]:
    """Each program once per side per link order; the geomean over every (program, link order)."""
    programs = interpreter.programs()
    if quick:
        programs = programs[::4]
    per_seed: dict[str, dict[str, Any]] = {}
    ratios: list[float] = []
    for seed, images in pairs.items():
        times: dict[str, dict[str, int]] = {"sealed": {}, "unsealed": {}}
        skipped: dict[str, str] = {}
        for i, path in enumerate(programs):
            results: dict[str, tuple[int, str] | str] = {}
            for side in _sides(i):
                common.log(f"seal: perf_bench {path.stem} on {side}, link order {seed}")
                results[side] = _run_script(images[side], interpreter.script(path))
            a, b = results["sealed"], results["unsealed"]
            if isinstance(a, str) or isinstance(b, str) or a[1] != b[1]:
                skipped[path.stem] = f"sealed: {a!r:.120}; unsealed: {b!r:.120}"
                continue
            times["sealed"][path.stem], times["unsealed"][path.stem] = a[0], b[0]
        seed_ratios = {n: times["unsealed"][n] / times["sealed"][n] for n in times["sealed"]}
        ratios += seed_ratios.values()
        per_seed[seed] = {
            "programs": len(seed_ratios),
            "skipped": skipped,
            "us": times,
            "speed_ratio_per_program": {n: round(r, 3) for n, r in seed_ratios.items()},
            "geomean": round(common.geomean(list(seed_ratios.values())), 3) if seed_ratios else None,
        }
    return {
        "per_link_order": per_seed,
        "geomean": round(common.geomean(ratios), 3) if ratios else None,
    }


def _run_script(image: builder.Image, text: str) -> tuple[int, str] | str:
    try:
        with common.Console(boot.pyunik_argv(image, extra=["-no-reboot"])) as console:
            console.expect_or_fail(b">>> ", 30)
            out, err, _ = common.raw_exec(console, text, interpreter.RUN_TIMEOUT)
    except common.BenchError as exc:
        return f"error: {str(exc)[:200]}"
    return interpreter._parse(out, err)


def _asyncio(pairs: dict[str, Images], quick: bool) -> dict[str, Any]:
    # One spawn round's rate varies by up to 30% between rounds and boots
    # under TCG, even on a quiet host (the same two images gave 0.875 and
    # 1.106 in two runs of 4 boots of 3 rounds): 8 boots of 5 rounds a side
    # per link order, 40 boots in all, narrow the geomean.
    args = (5000, 1000, 2) if quick else (20000, 5000, 5)
    code = common.program("asyncio_tasks.py") + f"\nmain({args[0]}, {args[1]}, {args[2]})\n"
    per_seed: dict[str, dict[str, Any]] = {}
    for seed, images in pairs.items():
        raw: dict[str, list[float]] = {"sealed": [], "unsealed": []}
        cpu: dict[str, list[float]] = {"sealed": [], "unsealed": []}
        for i in range(2 if quick else 8):
            for side in _sides(i):
                common.log(f"seal: asyncio on {side} ({i + 1}), link order {seed}")
                with common.Console(boot.pyunik_argv(images[side], extra=["-no-reboot"])) as console:
                    console.expect_or_fail(b">>> ", 30)
                    before = common.cpu_seconds(console.proc.pid)
                    out, err, _ = common.raw_exec(console, code, asyncio_bench.TIMEOUT)
                    cpu[side].append(common.cpu_seconds(console.proc.pid) - before)
                if err.strip():
                    raise common.BenchError(f"asyncio on {side}: {err.strip()[-300:]}")
                raw[side] += [count / (us / 1e6) for count, us in asyncio_bench.parse(out)["spawn"]]
        spawn, ratio = _medians(raw, 1, 0)
        cpu_json, cpu_ratio = _medians(cpu, 1, 3)
        per_seed[seed] = {
            "spawn_tasks_per_s": spawn,
            "ratio": ratio,
            # QEMU's CPU seconds for the whole program (spawn, pingpong, idle:
            # the same work on both sides); the ratio unsealed / sealed, so that
            # above 1 is sealed cheaper, as for tasks/s.
            "qemu_cpu_s_per_run": cpu_json,
            "cpu_ratio": 1 / cpu_ratio,
        }
    return {"args": {"n_spawn": args[0], "n_pingpong": args[1], "rounds": args[2]}, **_over_orders(per_seed)}


def _boot(pairs: dict[str, Images], quick: bool) -> dict[str, Any]:
    runs = 3 if quick else 16
    per_seed: dict[str, dict[str, Any]] = {}
    for seed, images in pairs.items():
        common.log(f"seal: boot, {runs} runs a side, link order {seed}")
        raw: dict[str, list[float]] = {"sealed": [], "unsealed": []}
        cpu: dict[str, list[float]] = {"sealed": [], "unsealed": []}
        for i in range(runs):
            for side in _sides(i):
                with common.Console(boot.pyunik_argv(images[side], extra=["-no-reboot"])) as console:
                    _, seconds = console.expect_or_fail(boot.PROMPT, boot.BOOT_TIMEOUT)
                    cpu[side].append(common.cpu_seconds(console.proc.pid))
                raw[side].append(seconds)
        ms, ratio = _medians(raw, 1000, 2)
        cpu_ms, cpu_ratio = _medians(cpu, 1000, 2)
        per_seed[seed] = {
            "ms_to_prompt": ms,
            "ratio": ratio,
            # QEMU's CPU time from its start to the prompt (its own start-up
            # included, the same on both sides); sealed / unsealed like the ratio.
            "qemu_cpu_ms_to_prompt": cpu_ms,
            "cpu_ratio": cpu_ratio,
        }
    return {"runs_per_side_per_link_order": runs, **_over_orders(per_seed)}


def _medians(samples: dict[str, list[float]], scale: float, digits: int) -> tuple[dict[str, Any], float]:
    """Each side's statistics (JSON-ready, scaled) and the ratio of the medians, sealed / unsealed."""
    stats = {side: Stats.of(values) for side, values in samples.items()}
    ratio = stats["sealed"].median / stats["unsealed"].median
    return {side: s.as_dict(scale, digits) for side, s in stats.items()}, ratio


def _over_orders(per_seed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each link order's entry (ratios rounded for the JSON) and the geomeans of their exact ratios."""
    return {
        "per_link_order": {
            seed: {k: round(v, 3) if k.endswith("ratio") else v for k, v in entry.items()}
            for seed, entry in per_seed.items()
        },
        "ratio": round(common.geomean([e["ratio"] for e in per_seed.values()]), 3),
        "cpu_ratio": round(common.geomean([e["cpu_ratio"] for e in per_seed.values()]), 3),
    }


def run(quick: bool) -> dict[str, object]:
    load_before = os.getloadavg()[0]
    seeds = SEEDS[:1] if quick else SEEDS
    pairs: dict[str, Images] = {
        _seed_name(seed): {
            "sealed": common.image(BOARD, seed=seed),
            "unsealed": common.image(BOARD, seal=False, seed=seed),
        }
        for seed in seeds
    }
    images = pairs[_seed_name(None)]
    sizes = {side: image.stripped.stat().st_size for side, image in images.items()}
    probes: dict[str, dict[str, Any]] = {}
    for name in PROBES:
        common.log(f"seal: probe {name}")
        result = run_probe(images["sealed"], name)
        # The same lines on the unsealed image: what sealing adds (a guest
        # that is still running after a few seconds did not fault).
        unsealed = run_probe(images["unsealed"], name, wait=5.0)
        probes[name] = {"faulted": result.faulted, "detail": result.detail, "faulted_unsealed": unsealed.faulted}
    boot_entry = _boot(pairs, quick)
    aio = _asyncio(pairs, quick)
    perf = _perf(pairs, quick)
    ratios = {
        "perf_bench": perf["geomean"],
        "asyncio_spawn": aio["ratio"],
        "boot": boot_entry["ratio"],
        "image": common.ratio(sizes["sealed"], sizes["unsealed"]),
    }
    load_after = os.getloadavg()[0]
    faulted = sum(p["faulted"] for p in probes.values())

    def at_least(key: str) -> bool:
        return (ratios[key] or 0) >= GOALS[key]

    def at_most(key: str) -> bool:
        return ratios[key] is not None and ratios[key] <= GOALS[key]  # type: ignore[operator]

    goals = {
        f"perf_bench geomean sealed/unsealed >= {GOALS['perf_bench']}": at_least("perf_bench"),
        f"asyncio spawn sealed/unsealed >= {GOALS['asyncio_spawn']}": at_least("asyncio_spawn"),
        f"boot sealed/unsealed <= {GOALS['boot']}": at_most("boot"),
        f"image sealed/unsealed <= {GOALS['image']}": at_most("image"),
        "every probe faults": faulted == len(probes),
    }
    return {
        "what": "sealed (default) vs seal = false on the same board, same QEMU, alternating; "
        "timings over the link orders in link_orders, probes on both images of the usual one",
        "board": BOARD,
        "link_orders": list(pairs),
        "ratio_base": "sealed over unsealed (perf_bench and asyncio: speed, above 1 sealed is faster; "
        "boot and image: size/time, above 1 sealed is bigger/slower); a timing's ratio is the "
        "geometric mean of its ratios per link order, the image's is the usual link order's",
        "image_bytes": sizes,
        "boot": boot_entry,
        "asyncio": aio,
        "perf_bench": perf,
        "ratios": ratios,
        "cpu_ratios": {"asyncio_spawn": aio["cpu_ratio"], "boot": boot_entry["cpu_ratio"]},
        "load": {"before": round(load_before, 1), "after": round(load_after, 1)},
        "probes": probes,
        "probes_faulted": f"{faulted}/{len(probes)}",
        "probes_faulted_unsealed": f"{sum(p['faulted_unsealed'] for p in probes.values())}/{len(probes)}",
        "goals": goals,
    }
