"""Boot measurements: time to the first prompt against the floor, least memory.

The pieces bench/boot_time.py, bench/least_memory.py and bench/net.py
measure with (the `invoke bench` sections; bench/report.py draws the charts).

Everything is measured in one run on one machine, because boot times under
QEMU TCG only mean something relative to what QEMU itself costs on the same
host at the same moment: the *floor* is a trivial PVH ELF (bench/floor/) that
QEMU loads the way it loads pyunik and that exits at once through
isa-debug-exit. pyunik's prompt time divided by the floor's exit time says how
much the unikernel itself adds. Floor and pyunik runs are interleaved so that
a change of host load during the run hits both alike.

Times are wall clock, time.perf_counter taken just before Popen, up to the
moment the host reads ``>>> `` from QEMU's stdout (``-serial stdio`` on a
pipe) or sees QEMU exit. Every QEMU runs in its own session under a deadline
and is killed with its process group when the deadline passes or the
measurement is taken, so a wedged guest costs seconds, never the run.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import budgets
from pyunik import board as boards
from pyunik import build as builder
from pyunik import vm

ROOT = boards.ROOT
HERE = Path(__file__).resolve().parent
FLOOR_SOURCES = (HERE / "floor" / "floor.S", HERE / "floor" / "floor.ld")
#: The board whose heap and least memory are measured (the default board).
MEMORY_BOARD = "qemu-microvm"

PROMPT = b">>> "
#: What QEMU returns when the guest writes 0 to isa-debug-exit: (0 << 1) | 1.
FLOOR_STATUS = 1
DEBUG_EXIT = ("-device", "isa-debug-exit,iobase=0xf4,iosize=0x04")

# The aims the numbers are compared against (printed beside them). The two that are
# deterministic live in bench/budgets.toml, which CI asserts (tests/hil/test_budgets.py).
AIM_RATIO = 1.10
AIM_MEMORY_KIB = budgets.limit("least_memory_kib", MEMORY_BOARD)

#: Bisection range for the least -m, KiB: 1 MiB (the image loads at 1 MiB) to 32 MiB.
MEMORY_LOW_KIB = 1024
MEMORY_HIGH_KIB = 32768
#: Each try of the bisection: long enough for a slow prompt, short enough for ~30 tries.
MEMORY_TRY_TIMEOUT = 5.0
#: Granularity of QEMU's -m (observed with 7.2: 1425K..1432K boot alike, with the same heap).
QEMU_RAM_STEP_KIB = 8
#: One boot to the prompt (or to the floor's exit): generous, still bounded.
BOOT_TIMEOUT = 15.0
ALLOC_LINE = "x=[bytes(100) for i in range(50)]; print('ok')"
MEM_INFO_LINE = "import micropython; micropython.mem_info()"


class BenchError(Exception):
    """The benchmark could not measure something; the message says what."""


def log(message: str) -> None:
    """Progress on stderr, so that stdout carries only the result table."""
    print(f"[boot {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- QEMU under a deadline -------------------------------------------------------------------


class Guest:
    """One QEMU with its serial console on pipes (``-serial stdio``).

    ``started`` is taken just before the fork, so every time this class
    returns is "QEMU start -> event seen on the host". QEMU's stderr goes to
    a temporary file (never a pipe nobody reads, which could block it) and
    is shown when a boot fails.
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = tuple(argv)
        self.buffer = b""
        self.pos = 0
        # Lives as long as the Guest (closed in kill()), hence no with-block.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        self.eof_at: float | None = None

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def _fill(self, deadline: float) -> bool:
        """Read whatever is there, waiting until ``deadline`` at most; False at EOF."""
        ready, _, _ = select.select([self._fd], [], [], max(0.0, deadline - time.perf_counter()))
        if not ready:
            return True
        try:
            chunk = os.read(self._fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            if self.eof_at is None:
                self.eof_at = time.perf_counter() - self.started
            return False
        self.buffer += chunk
        return True

    def expect(self, marker: bytes, timeout: float) -> tuple[bytes, float] | None:
        """Wait for ``marker`` after the previous match.

        Returns (the text before it, seconds since start), or None when QEMU
        exits or the timeout passes first: for the memory bisection both
        just mean "does not boot".
        """
        deadline = time.perf_counter() + timeout
        while True:
            at = self.buffer.find(marker, self.pos)
            if at >= 0:
                elapsed = time.perf_counter() - self.started
                before = self.buffer[self.pos : at]
                self.pos = at + len(marker)
                return before, elapsed
            if time.perf_counter() >= deadline or not self._fill(deadline):
                return None

    def send(self, line: str) -> bool:
        """Type a line at the REPL (CR is Enter); False if QEMU has gone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\r")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def wait_exit(self, timeout: float) -> tuple[int, float] | None:
        """Wait for QEMU to exit; (its status, seconds since start) or None on timeout.

        The time is taken when the process is reaped, which follows QEMU's
        exit (and the EOF on its stdout) by the time of one poll.
        """
        deadline = time.perf_counter() + timeout
        while True:
            status = self.proc.poll()
            if status is not None:
                return status, time.perf_counter() - self.started
            if time.perf_counter() >= deadline:
                return None
            if not self._fill(min(deadline, time.perf_counter() + 0.0005)):
                try:
                    status = self.proc.wait(timeout=max(0.0, deadline - time.perf_counter()))
                except subprocess.TimeoutExpired:
                    return None
                return status, time.perf_counter() - self.started

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-1500:]

    def tail(self, n: int = 600) -> str:
        return self.buffer[-n:].decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL QEMU's whole process group and reap it, so runs never overlap."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()


def time_to_prompt(argv: Sequence[str], timeout: float = BOOT_TIMEOUT) -> float:
    """Seconds from Popen to the first ``>>> `` on the console; QEMU is killed afterwards."""
    with Guest(argv) as guest:
        got = guest.expect(PROMPT, timeout)
        if got is None:
            raise BenchError(
                f"no prompt within {timeout:.0f} s from: {' '.join(argv)}\n"
                f"console tail: {guest.tail()!r}\nqemu stderr: {guest.stderr_text()}"
            )
        return got[1]


@dataclass(frozen=True)
class FloorRun:
    """One floor boot: when its ``>>> `` arrived (if floor.S prints one) and when QEMU exited."""

    marker: float | None
    exit: float


def time_floor(argv: Sequence[str], timeout: float = BOOT_TIMEOUT) -> FloorRun:
    """Seconds from Popen to the floor kernel's exit (and to its marker, if it writes one)."""
    with Guest(argv) as guest:
        # floor.S may write ">>> " before it exits; at EOF without it this returns None at once.
        marker = guest.expect(PROMPT, timeout)
        done = guest.wait_exit(timeout)
        if done is None:
            raise BenchError(f"the floor did not exit within {timeout:.0f} s: {' '.join(argv)}")
        status, seconds = done
        if status != FLOOR_STATUS:
            raise BenchError(
                f"the floor exited with {status}, not {FLOOR_STATUS} (isa-debug-exit, 0): "
                f"{' '.join(argv)}\nqemu stderr: {guest.stderr_text()}"
            )
        return FloorRun(marker=None if marker is None else marker[1], exit=seconds)


# --- What is measured ------------------------------------------------------------------------


def build_floor(out: Path) -> Path:
    """Assemble and link bench/floor/floor.S with gcc into ``out``/floor.elf.

    -nostdlib -static -no-pie: the floor is a bare PVH ELF laid out by
    floor.ld at 1 MiB, with its note in a PT_NOTE segment as pyunik's is.
    The note is checked afterwards, since QEMU would otherwise refuse the
    file with a message that does not say why.
    """
    for source in FLOOR_SOURCES:
        if not source.is_file():
            raise BenchError(f"{source} is missing: the floor kernel is built from bench/floor/")
    elf = out / "floor.elf"
    argv = [
        "gcc",
        "-nostdlib",
        "-static",
        "-no-pie",
        f"-Wl,-T,{FLOOR_SOURCES[1]}",
        "-Wl,--build-id=none",
        "-Wl,-z,max-page-size=4096",
        "-o",
        str(elf),
        str(FLOOR_SOURCES[0]),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise BenchError(f"building the floor failed: {' '.join(argv)}\n{result.stdout}{result.stderr}")
    notes = subprocess.run(["readelf", "-lnW", str(elf)], capture_output=True, text=True, timeout=30).stdout
    if "NOTE" not in notes or not re.search(r"Xen\s+0x0+4\s+(Unknown note type: \(0x00000012\)|.*PHYS32)", notes):
        raise BenchError(f"{elf} has no PVH note (Xen, type 18) in a PT_NOTE segment:\n{notes}")
    return elf


def pyunik_argv(image: builder.Image, memory: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The QEMU command line `invoke run` would use for the image (stripped: what ships)."""
    return list(
        vm.qemu_command(
            image.board, image.stripped, serial="stdio", memory=memory, plugin_args=image.qemu_args, extra=extra
        ).argv
    )


def floor_argv(image: builder.Image, floor: Path) -> list[str]:
    """The floor under exactly pyunik's command line for the board, with only the kernel swapped."""
    plugin_args = list(image.qemu_args)
    if "isa-debug-exit" not in " ".join(plugin_args + list(image.board.vm.args)):
        plugin_args += DEBUG_EXIT
    return list(vm.qemu_command(image.board, floor, serial="stdio", plugin_args=plugin_args).argv)


@dataclass(frozen=True)
class Session:
    """What one boot at a given -m did: prompt or not, and the output of each line typed."""

    prompt: bool
    replies: tuple[str | None, ...]
    #: Why there was no prompt: "exit N: <last console line>" or "timeout: <last line>"; "" with a prompt.
    failure: str = ""


def boot_and_type(
    image: builder.Image, memory_kib: int, lines: Sequence[str], timeout: float = MEMORY_TRY_TIMEOUT
) -> Session:
    """Boot with ``-m {memory_kib}K`` and type ``lines`` at the prompt, all within ``timeout``.

    -no-reboot makes a triple fault end QEMU instead of looping until the
    deadline, so a failed try of the bisection is usually cheap.
    """
    argv = pyunik_argv(image, memory=f"{memory_kib}K", extra=["-no-reboot"])
    deadline = time.perf_counter() + timeout
    with Guest(argv) as guest:
        if guest.expect(PROMPT, timeout) is None:
            lines_seen = guest.tail(300).strip().splitlines()
            last = lines_seen[-1] if lines_seen else ""
            # At EOF QEMU is exiting but may not be reaped yet: wait for its status then.
            status = guest.proc.poll()
            if status is None and guest.eof_at is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    status = guest.proc.wait(timeout=2)
            return Session(False, (), f"{'timeout' if status is None else f'exit {status}'}: {last}")
        replies: list[str | None] = []
        for line in lines:
            got = guest.expect(PROMPT, max(0.0, deadline - time.perf_counter())) if guest.send(line) else None
            replies.append(None if got is None else got[0].decode(errors="replace"))
        return Session(True, tuple(replies))


def allocation_ok(reply: str | None) -> bool:
    """The allocation line printed ok (the echo has 'ok' in quotes, the result on a line of its own)."""
    return reply is not None and "\nok\r\n" in reply and "Error" not in reply


def gc_total(reply: str | None) -> int | None:
    match = re.search(r"GC: total: (\d+)", reply or "")
    return int(match.group(1)) if match else None


def bisect_least(works: Callable[[int], bool], low: int, high: int, tries: list[dict[str, Any]]) -> int | None:
    """The least KiB in [low, high] for which ``works`` holds, assuming it is monotonic.

    None when even ``high`` fails. ``works`` appends each try to ``tries``
    so the JSON shows the path the bisection took.
    """
    if not works(high):
        return None
    if works(low):
        return low
    # Invariant: works(high) and not works(low).
    while high - low > 1:
        mid = (low + high) // 2
        if works(mid):
            high = mid
        else:
            low = mid
    return high


def _round_up(kib: int | None, step: int) -> int | None:
    return None if kib is None else -(-kib // step) * step


def measure_memory(image: builder.Image) -> dict[str, Any]:
    """Heap at -m 32M, and the least -m for the prompt and for the prompt plus an allocation."""
    log("heap at -m 32M")
    at_32m = boot_and_type(image, 32 * 1024, [MEM_INFO_LINE], timeout=BOOT_TIMEOUT)
    heap = gc_total(at_32m.replies[0] if at_32m.replies else None)
    if heap is None:
        raise BenchError(f"no 'GC: total' from mem_info() at -m 32M: {at_32m}")

    prompt_tries: list[dict[str, Any]] = []
    alloc_tries: list[dict[str, Any]] = []

    def reaches_prompt(kib: int) -> bool:
        session = boot_and_type(image, kib, [])
        prompt_tries.append({"kib": kib, "prompt": session.prompt, "failure": session.failure})
        return session.prompt

    def allocates(kib: int) -> bool:
        session = boot_and_type(image, kib, [ALLOC_LINE])
        ok = session.prompt and allocation_ok(session.replies[0])
        alloc_tries.append({"kib": kib, "prompt": session.prompt, "allocation": ok, "failure": session.failure})
        return ok

    log(f"least -m for the prompt: bisecting {MEMORY_LOW_KIB}K..{MEMORY_HIGH_KIB}K")
    least_prompt = bisect_least(reaches_prompt, MEMORY_LOW_KIB, MEMORY_HIGH_KIB, prompt_tries)
    log(f"least -m for the prompt: {least_prompt}K; now for prompt + allocation")
    # An allocation needs the prompt first: the search starts where that one ended.
    start = max(MEMORY_LOW_KIB, (least_prompt or MEMORY_HIGH_KIB) - 1)
    least_alloc = bisect_least(allocates, start, MEMORY_HIGH_KIB, alloc_tries)

    at_least: dict[str, Any] = {}
    if least_prompt is not None:
        session = boot_and_type(image, least_prompt, [MEM_INFO_LINE, ALLOC_LINE])
        at_least = {
            "kib": least_prompt,
            "prompt": session.prompt,
            "gc_total": gc_total(session.replies[0]) if session.replies else None,
            "allocation_ok": allocation_ok(session.replies[1]) if len(session.replies) > 1 else False,
        }
    at_least_alloc: dict[str, Any] = {}
    if least_alloc is not None:
        session = boot_and_type(image, least_alloc, [MEM_INFO_LINE])
        at_least_alloc = {"kib": least_alloc, "gc_total": gc_total(session.replies[0]) if session.replies else None}
    return {
        "board": image.board.name,
        "heap_at_32M": {"memory": "32M", "gc_total_bytes": heap, "mem_info": (at_32m.replies[0] or "").strip()},
        "least_memory_kib": {
            "prompt": least_prompt,
            "prompt_plus_allocation": least_alloc,
            "allocation_line": ALLOC_LINE,
            # QEMU rounds -m up to a multiple of 8 KiB (the heap grows in steps of
            # 8064 B from one multiple to the next), so N K really gives this much RAM.
            "effective_kib": {
                "prompt": _round_up(least_prompt, QEMU_RAM_STEP_KIB),
                "prompt_plus_allocation": _round_up(least_alloc, QEMU_RAM_STEP_KIB),
            },
            "range_kib": [MEMORY_LOW_KIB, MEMORY_HIGH_KIB],
            "try_timeout_s": MEMORY_TRY_TIMEOUT,
            "at_least_prompt": at_least,
            "at_least_prompt_plus_allocation": at_least_alloc,
            "prompt_tries": prompt_tries,
            "allocation_tries": alloc_tries,
            "aim_kib": AIM_MEMORY_KIB,
            "meets_aim": least_prompt is not None and least_prompt <= AIM_MEMORY_KIB,
        },
    }


def host_facts() -> dict[str, Any]:
    """QEMU version, CPU model and load: what a reader needs to compare two runs' numbers."""
    version = subprocess.run([vm.QEMU, "--version"], capture_output=True, text=True, timeout=30).stdout
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "qemu_version": version.splitlines()[0] if version else "unknown",
        "host_cpu": cpu,
        "host_cpus": os.cpu_count(),
        "hardware_virtualisation": vm.has_hardware_virtualisation(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
