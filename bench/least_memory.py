"""Least memory: by bisection, the smallest -m with which a guest reaches its prompt and does real work.

For each pyunik board, bench/boot.py's measure_memory() bisects (1 KiB steps)
the least -m for the prompt and for the prompt plus one allocation line; on
top of that, the same bisection for the prompt plus bench/programs/alloc.py,
an allocation-heavy script (thousands of short-lived objects of five kinds,
a small live set: the GC runs again and again). Beside them, the Linux guest
(bench/linux.py) running that same script with the unix port, in 1 MiB steps
(16 MiB in a quick run). Each try runs under a deadline; a panic ends the
Linux guest at once (panic=-1, -no-reboot). The issue-2 goal: the prompt in
-m 1434K.
"""

from __future__ import annotations

import re
from typing import Any

from bench import boot, common, linux

#: Linux bisection range, MiB (the unix port's own heap is its default, 2 MiB on 64-bit).
LINUX_LOW_MIB = 16
LINUX_HIGH_MIB = 256
#: A good boot + alloc.py takes 5-8 s here; a hung one never ends (see linux_works).
LINUX_TRY_TIMEOUT = 40.0
HEAVY_TRY_TIMEOUT = 20.0
_ALLOC_OK = re.compile(r"\nALLOC-OK (\d+) (\d+)")


def heavy_line() -> str:
    """alloc.py as one line to type at the friendly REPL (exec of its code, comments dropped:
    the echo of the line must not contain the words the result is checked for)."""
    code = "\n".join(
        line for line in common.program("alloc.py").splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
    return f"exec({code + chr(10) + 'main()' + chr(10)!r})"


def heavy_ok(reply: str | None) -> tuple[bool, int | None]:
    """(the script printed ALLOC-OK and no traceback, the heap size it reported)."""
    if reply is None:
        return False, None
    match = _ALLOC_OK.search(reply.replace("\r", ""))
    ok = match is not None and "Traceback" not in reply
    return ok, int(match.group(2)) if match else None


def pyunik_heavy(image: Any, start_kib: int, tries: list[dict[str, Any]]) -> int | None:
    line = heavy_line()

    def works(kib: int) -> bool:
        session = boot.boot_and_type(image, kib, [line], timeout=HEAVY_TRY_TIMEOUT)
        ok, heap = heavy_ok(session.replies[0] if session.replies else None)
        tries.append({"kib": kib, "prompt": session.prompt, "script": ok, "heap": heap, "failure": session.failure})
        return ok

    return boot.bisect_least(works, start_kib, boot.MEMORY_HIGH_KIB, tries)


def linux_try(board: str, mib: int) -> dict[str, Any]:
    """Boot the Linux guest with -m {mib}M and run alloc.py; what happened."""
    argv = linux.argv(board, f"{mib}M", "/bench/alloc.py run")
    with common.Console(argv) as console:
        try:
            console.expect_or_fail(b"ALLOC-OK", LINUX_TRY_TIMEOUT, fail=linux.FAILURES)
            done = console.wait_exit(LINUX_TRY_TIMEOUT)
            status = None if done is None else done[0]
            return {"mib": mib, "ok": status == 1, "qemu_status": status}
        except common.GuestTimeout as exc:
            return {"mib": mib, "ok": False, "failure": str(exc)[-300:]}


def linux_least(board: str, quick: bool) -> dict[str, Any]:
    step = 16 if quick else 1
    tries: list[dict[str, Any]] = []

    def works(units: int) -> bool:
        # Under TCG on a busy host Debian's kernel sometimes cannot calibrate
        # the TSC against the PIT and hangs silently (about 1 boot in 5 here):
        # a size counts as too small only when a second try fails too.
        for _ in range(2):
            result = linux_try(board, units * step)
            tries.append(result)
            if result["ok"]:
                return True
        return False

    low, high = max(1, LINUX_LOW_MIB // step), LINUX_HIGH_MIB // step
    least = boot.bisect_least(works, low, high, tries)
    return {
        "least_mib": None if least is None else least * step,
        "step_mib": step,
        "range_mib": [LINUX_LOW_MIB, LINUX_HIGH_MIB],
        "tries": tries,
    }


def run(quick: bool) -> dict[str, object]:
    boards: dict[str, Any] = {}
    for name in common.BOARDS:
        image = common.image(name)
        common.log(f"least memory {name}: prompt, prompt + allocation (bench/boot.py)")
        entry = boot.measure_memory(image)
        least = entry["least_memory_kib"]
        prompt_kib = least["prompt"] or boot.MEMORY_LOW_KIB
        common.log(f"least memory {name}: prompt {least['prompt']}K; now prompt + alloc.py")
        tries: list[dict[str, Any]] = []
        # From the least -m with a prompt: below it every try would only wait out its deadline.
        heavy = pyunik_heavy(image, prompt_kib, tries)
        step = boot.QEMU_RAM_STEP_KIB
        at_aim = boot.boot_and_type(image, boot.AIM_MEMORY_KIB, [])
        boards[name] = {
            "prompt_kib": least["prompt"],
            "prompt_plus_allocation_line_kib": least["prompt_plus_allocation"],
            "prompt_plus_alloc_script_kib": heavy,
            "effective_kib": {
                "prompt": least["effective_kib"]["prompt"],
                # QEMU rounds -m up to whole RAM steps (as boot.py records for the prompt).
                "prompt_plus_alloc_script": None if heavy is None else -(-heavy // step) * step,
            },
            f"prompt_at_{boot.AIM_MEMORY_KIB}K": at_aim.prompt,
            "heap_at_32M_bytes": entry["heap_at_32M"]["gc_total_bytes"],
            "boot_py": entry,
            "alloc_script_tries": tries,
        }
        common.log(f"least memory {name}: prompt {least['prompt']}K, + alloc.py {heavy}K")
    common.log("least memory linux/microvm: bisecting (each try boots Linux)")
    linux_result = linux_least("qemu-microvm", quick)
    common.log(f"least memory linux/microvm: {linux_result['least_mib']}M")
    micro = boards["qemu-microvm"]
    ratio = None
    if linux_result["least_mib"] and micro["prompt_plus_alloc_script_kib"]:
        ratio = common.ratio(linux_result["least_mib"] * 1024, micro["prompt_plus_alloc_script_kib"], 1)
    return {
        "what": "least QEMU -m to reach the prompt and run bench/programs/alloc.py (bisection)",
        "alloc_script": "bench/programs/alloc.py",
        "boards": boards,
        "linux/microvm": linux_result,
        "ratios": {"linux-microvm / qemu-microvm (prompt + alloc.py)": ratio},
        "goals": {
            f"qemu-microvm prompt in -m {boot.AIM_MEMORY_KIB}K": bool(micro[f"prompt_at_{boot.AIM_MEMORY_KIB}K"]),
        },
    }
