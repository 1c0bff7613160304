"""Entropy of the randomised layout: the C stack's top and the GC heap's base over many boots.

Each boot is the default board with a tiny app (bench/apps/layout) that
prints pvboot.layout() and one random.getrandbits(32), then ends the VM.
Boots run one after another, each bounded by a deadline, on two CPUs:
QEMU's default TCG CPU (qemu64: no RDRAND/RDSEED, so pvboot draws from
TSC jitter) and ``-cpu max`` (RDRAND). Per value and CPU it reports:

- ``design_bits``: log2 of how many equally likely places the guest drew
  from (pvboot.layout(): 1 MiB in 16-byte steps on the default 32M board,
  16 bits), which is the entropy if the source is uniform;
- ``distinct`` and ``collisions`` (pairs of boots with the same value) with
  the number of colliding pairs a uniform draw of design_bits would give:
  200 boots cannot measure 16 bits directly (the plug-in Shannon entropy of
  whole values is capped at log2(200) = 7.6 bits: ``plugin_entropy``), but
  many more collisions than expected would show a weaker source;
- ``bit_entropy``: the sum over address bits of each bit's binary entropy
  over the boots, as paxtest-style ASLR reports do (a heuristic: carries of
  the random offset into higher address bits make it read above the design);
- ``span_bits``: log2 of the observed range in 16-byte steps.

The goal (issue 16) is >= 16 bits each over 200 boots: met when the design
gives 16 bits and the boots show no more collisions than a uniform draw
would plausibly give (expected + 3 standard deviations). One boot of this
app is well under a second of QEMU under TCG here; the count and the time
are in the result.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import boot, common

APP = Path(__file__).resolve().parent / "apps" / "layout"
BOARD = "qemu-microvm"
BOOTS = 200
QUICK_BOOTS = 30
BOOT_TIMEOUT = 20.0
CPUS = {"qemu64 (tsc-jitter)": [], "max (rdrand)": ["-cpu", "max"]}
GOAL_BITS = 16.0
FIELDS = ("stack_top", "heap_start", "heap_pool", "random32")


def bit_entropy(values: list[int], bits: int = 64) -> float:
    total = 0.0
    n = len(values)
    for b in range(bits):
        ones = sum((v >> b) & 1 for v in values)
        for p in (ones / n, 1 - ones / n):
            if 0 < p < 1:
                total -= p * math.log2(p)
    return total


def plugin_entropy(values: list[int]) -> float:
    n = len(values)
    return -sum(c / n * math.log2(c / n) for c in Counter(values).values())


def collisions(values: list[int]) -> int:
    return sum(c * (c - 1) // 2 for c in Counter(values).values())


def expected_collisions(n: int, positions: int) -> float:
    return n * (n - 1) / 2 / positions


def summarise(values: list[int], positions: int | None = None) -> dict[str, Any]:
    span = (max(values) - min(values)) // 16 + 1
    extra: dict[str, Any] = {}
    if positions:
        expected = expected_collisions(len(values), positions)
        extra = {
            "design_bits": round(math.log2(positions), 2),
            "collisions": collisions(values),
            "expected_collisions": round(expected, 2),
            "collisions_plausible": collisions(values) <= expected + 3 * math.sqrt(expected) + 1,
        }
    return {
        **extra,
        "distinct": len(set(values)),
        "bit_entropy": round(bit_entropy(values), 2),
        "plugin_entropy": round(plugin_entropy(values), 2),
        "span_bits": round(math.log2(span), 2),
        "min": hex(min(values)),
        "max": hex(max(values)),
    }


def boot_once(argv: list[str]) -> tuple[list[int], str, tuple[int, int], float]:
    done = common.run(argv, timeout=BOOT_TIMEOUT)
    text = done.stdout.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("LAYOUT ")), None)
    if line is None:
        raise common.BenchError(f"no LAYOUT line from the guest (status {done.returncode}): {text[-500:]!r}")
    words = line.split()
    return [int(w) for w in words[1:5]], words[5], (int(words[6]), int(words[7])), done.seconds


def run(quick: bool = False) -> dict[str, object]:
    boots = QUICK_BOOTS if quick else BOOTS
    image = common.app_image(BOARD, APP)
    result: dict[str, Any] = {"board": BOARD, "boots": boots, "goal_bits": GOAL_BITS, "cpus": {}}
    for label, cpu in CPUS.items():
        argv = boot.pyunik_argv(image, extra=["-no-reboot", *cpu])
        samples: dict[str, list[int]] = {f: [] for f in FIELDS}
        sources: Counter[str] = Counter()
        seconds: list[float] = []
        positions: Counter[tuple[int, int]] = Counter()
        started = time.perf_counter()
        for i in range(boots):
            values, source, drawn_from, took = boot_once(argv)
            positions[drawn_from] += 1
            for field, value in zip(FIELDS, values, strict=True):
                samples[field].append(value)
            sources[source] += 1
            seconds.append(took)
            if i % 50 == 49:
                common.log(f"entropy: {label}: {i + 1}/{boots} boots")
        # The region sizes are the same on every boot of one -m: one value.
        stack_positions, heap_positions = min(positions)
        entry: dict[str, Any] = {
            "stack_top": summarise(samples["stack_top"], stack_positions),
            "heap_start": summarise(samples["heap_start"], heap_positions),
            "heap_pool": summarise(samples["heap_pool"], heap_positions),
            "random32": summarise(samples["random32"], 1 << 32),
        }
        entry["entropy_source"] = dict(sources)
        entry["seconds_per_boot_median"] = round(sorted(seconds)[len(seconds) // 2], 3)
        entry["seconds_total"] = round(time.perf_counter() - started, 1)
        checked = [entry[f] for f in ("stack_top", "heap_pool")]
        entry["goal_met"] = all(e["design_bits"] >= GOAL_BITS and e["collisions_plausible"] for e in checked)
        result["cpus"][label] = entry
        common.log(
            f"entropy: {label}: stack top {entry['stack_top']['design_bits']} bits "
            f"({entry['stack_top']['collisions']} collisions), heap {entry['heap_pool']['design_bits']} bits "
            f"({entry['heap_pool']['collisions']} collisions) over {boots} boots"
        )
    return result
