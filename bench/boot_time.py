"""Boot: QEMU process start -> the first ">>> " on the serial console.

pyunik is measured against the floor with bench/boot.py's pieces - the
floor kernel (bench/floor/), the command lines and the timers - and beside
them the Linux guest (bench/linux.py:
Debian's kernel + busybox + the unix port, to the unix REPL's first prompt)
under the same QEMU settings. Everything is interleaved run by run, so a busy
moment on the host touches every guest alike:

- the floor on each board's machine: to its own ">>> " and to QEMU's exit;
- pyunik on each board at the board's -m, and qemu-microvm again at the
  Linux guest's -m (like-for-like with Linux);
- Linux on microvm, booted as the uncompressed ELF vmlinux (and on q35 in a
  full run), and, as a labelled second row, Debian's bzImage itself (its xz
  decompression under TCG is most of the difference).

Times are medians of N runs with min/max/stdev; ratios are of medians. The
headline ratio is pyunik's first ">>> " over the floor's own first ">>> ":
two points in time of the same kind, on the same QEMU command line. The
issue-2 goal (<= 1.10x) is read against it. Over the floor's exit is kept as
a second, labelled figure (the floor's exit comes after its prompt, so that
ratio flatters pyunik). Linux cannot boot at pyunik's -m (32M): one try at it
is recorded, and Linux is compared with pyunik booted at Linux's -m; the least
-m Linux needs is the memory benchmark's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench import boot, common, linux
from bench.common import Stats

#: The Linux guest's -m for boot timing (bench/linux.py).
LINUX_MEMORY = linux.MEMORY
#: One try of the Linux guest at pyunik's -m, to record whether it boots there.
PYUNIK_MEMORY = "32M"
#: A good boot takes 4-8 s here; now and then Debian's kernel under TCG cannot
#: calibrate the TSC against the PIT and hangs: that run is counted as failed.
LINUX_TIMEOUT = 40.0


@dataclass
class Target:
    """One thing to boot N times; ``make_argv`` runs once, up front (it may build or download)."""

    name: str
    make_argv: Callable[[], list[str]]
    runs: int
    timeout: float
    floor: bool = False
    argv: list[str] = field(default_factory=list)
    prompt: list[float] = field(default_factory=list)
    exit: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    attempts: int = 0

    def done(self) -> bool:
        return self.attempts >= self.runs

    def reset(self) -> None:
        self.prompt.clear()
        self.exit.clear()
        self.errors.clear()
        self.attempts = 0

    def measure_once(self) -> None:
        self.attempts += 1
        try:
            if self.floor:
                run = boot.time_floor(self.argv, self.timeout)
                self.exit.append(run.exit)
                if run.marker is not None:
                    self.prompt.append(run.marker)
            else:
                self.prompt.append(boot.time_to_prompt(self.argv, self.timeout))
        except common.BenchError as exc:
            self.errors.append(str(exc)[:600])


def _floor_argv(board_name: str) -> list[str]:
    return boot.floor_argv(common.image(board_name), boot.build_floor(common.WORK))


def targets(quick: bool) -> list[Target]:
    n = 3 if quick else 15
    n_linux = 1 if quick else 5
    chosen = [
        Target("floor/microvm", lambda: _floor_argv("qemu-microvm"), n, boot.BOOT_TIMEOUT, floor=True),
        Target("floor/q35", lambda: _floor_argv("qemu-q35"), n, boot.BOOT_TIMEOUT, floor=True),
        Target("pyunik/qemu-microvm", lambda: common.pyunik_argv("qemu-microvm"), n, boot.BOOT_TIMEOUT),
        Target("pyunik/qemu-q35", lambda: common.pyunik_argv("qemu-q35"), n, boot.BOOT_TIMEOUT),
        Target(
            f"pyunik/qemu-microvm@{LINUX_MEMORY}",
            lambda: common.pyunik_argv("qemu-microvm", memory=LINUX_MEMORY),
            n,
            boot.BOOT_TIMEOUT,
        ),
        Target("linux/microvm", lambda: linux.argv("qemu-microvm", LINUX_MEMORY), n_linux, LINUX_TIMEOUT),
        Target(
            "linux-bzImage/microvm",
            lambda: linux.argv("qemu-microvm", LINUX_MEMORY, image=linux.BZIMAGE),
            n_linux,
            LINUX_TIMEOUT,
        ),
    ]
    if not quick:
        chosen.append(Target("linux/q35", lambda: linux.argv("qemu-q35", LINUX_MEMORY), n_linux, LINUX_TIMEOUT))
    return chosen


def linux_at_pyunik_memory() -> dict[str, object]:
    """One boot of the Linux guest at pyunik's -m: a prompt, or how it failed."""
    argv = linux.argv("qemu-microvm", PYUNIK_MEMORY)
    with common.Console(argv) as console:
        got = console.expect(b">>> ", LINUX_TIMEOUT)
        if got is not None:
            return {"memory": PYUNIK_MEMORY, "prompt_ms": round(got[1] * 1000, 1)}
        done = console.wait_exit(5)  # at EOF QEMU is exiting: its status and when
        output = "no console output" if not console.buffer.strip() else f"console: {console.tail(200)!r}"
        failure = (
            f"QEMU exited (status {done[0]}) after {done[1]:.1f} s, {output}"
            if done is not None
            else f"no prompt in {LINUX_TIMEOUT:.0f} s, {output}"
        )
        return {"memory": PYUNIK_MEMORY, "prompt_ms": None, "failure": failure}


def run(quick: bool) -> dict[str, object]:
    chosen = targets(quick)
    # Build and download everything first, then one untimed boot of each, so
    # that the page cache holds QEMU, firmware and kernels for every timed run.
    for target in chosen:
        target.argv = target.make_argv()
    for target in chosen:
        target.measure_once()
        target.reset()
    while not all(t.done() for t in chosen):
        for target in chosen:
            if not target.done():
                target.measure_once()

    results: dict[str, object] = {}
    medians: dict[str, float] = {}
    exits: dict[str, float] = {}
    for target in chosen:
        entry: dict[str, object] = {
            "accel": common.accel_of(target.argv),
            "memory": target.argv[target.argv.index("-m") + 1],
            "argv": " ".join(target.argv),
        }
        if target.prompt:
            stats = Stats.of(target.prompt)
            entry["prompt_ms"] = stats.as_dict(1000)
            medians[target.name] = stats.median
        if target.exit:
            stats = Stats.of(target.exit)
            entry["exit_ms"] = stats.as_dict(1000)
            exits[target.name] = stats.median
        if target.errors:
            entry["errors"] = target.errors
        results[target.name] = entry
        shown = f"median {medians[target.name] * 1000:.1f} ms" if target.name in medians else "no prompt"
        common.log(f"boot {target.name}: {shown}" + (f", {len(target.errors)} failed" if target.errors else ""))

    def r(a: str, b: str, base: dict[str, float] | None = None) -> float | None:
        base = medians if base is None else base
        return common.ratio(medians[a], base[b]) if a in medians and b in base else None

    at = f"qemu-microvm@{LINUX_MEMORY}"
    ratios = {
        # The headline: prompt over prompt, same QEMU line.
        "qemu-microvm / floor prompt": r("pyunik/qemu-microvm", "floor/microvm"),
        "qemu-q35 / floor prompt": r("pyunik/qemu-q35", "floor/q35"),
        # Second figure: over the floor's exit, which comes after its prompt.
        "qemu-microvm / floor exit": r("pyunik/qemu-microvm", "floor/microvm", exits),
        "qemu-q35 / floor exit": r("pyunik/qemu-q35", "floor/q35", exits),
        # Linux (vmlinux) against pyunik at the same -m; the bzImage row beside it.
        f"linux-microvm / {at}": r("linux/microvm", f"pyunik/{at}"),
        f"linux-bzImage-microvm / {at}": r("linux-bzImage/microvm", f"pyunik/{at}"),
        "linux-microvm / qemu-microvm": r("linux/microvm", "pyunik/qemu-microvm"),
        "linux-microvm / floor prompt": r("linux/microvm", "floor/microvm"),
    }
    if "linux/q35" in medians:
        ratios["linux-q35 / qemu-q35"] = r("linux/q35", "pyunik/qemu-q35")
    goals: dict[str, bool] = {}
    for board in ("qemu-microvm", "qemu-q35"):
        value = ratios[f"{board} / floor prompt"]
        goals[f"{board} prompt <= {boot.AIM_RATIO}x floor prompt"] = value is not None and value <= boot.AIM_RATIO
    return {
        "what": "QEMU start -> first '>>> ' on the console (floor: also -> QEMU exit), ms; one untimed boot each first",
        "ratio_base": "pyunik's first '>>> ' over the floor's own first '>>> ' (same QEMU line); "
        "'/ floor exit' ratios are over the floor's QEMU exit",
        "targets": results,
        "ratios": ratios,
        "goals": goals,
        "linux_at_pyunik_memory": linux_at_pyunik_memory(),
        "linux_guest": linux.describe(),
    }
