"""What every benchmark shares: paths, bounded child processes, a guest console, statistics.

Every child process (QEMU, qemu-user, make, apt-get) runs in its own session
under a deadline and is killed with its whole process group when the deadline
passes: a wedged guest must cost seconds, not the run. A :class:`Console`
reads a guest's serial console from QEMU's stdout (``-serial stdio``) and
times when a marker appears, measured from just before QEMU was started.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import boot
from pyunik import board as boards
from pyunik import build as builder

ROOT = boards.ROOT
#: Where the harness keeps what it builds and downloads (git-ignored).
WORK = ROOT / "build" / "bench"
#: The pyunik images the benchmarks boot: built apart from build/<board>/ so
#: that a concurrent `invoke build`/`invoke test` never shares a make tree with us.
IMAGES = WORK / "images"
PROGRAMS = Path(__file__).resolve().parent / "programs"
MICROPYTHON = ROOT / "deps" / "micropython"

BOARDS = ("qemu-microvm", "qemu-q35")


#: One error type for the whole harness: bench/boot.py's (it raises it too).
BenchError = boot.BenchError


def log(message: str) -> None:
    """Progress on stderr, flushed: a full run takes minutes."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a child started with start_new_session and everything it started."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@dataclass(frozen=True)
class Completed:
    """A finished (or killed) child: its status, output and wall time."""

    returncode: int
    stdout: bytes
    seconds: float
    timed_out: bool


def run(
    argv: Sequence[str | Path],
    timeout: float,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> Completed:
    """Run a command to completion or until ``timeout`` seconds, then kill its group.

    stdout and stderr are merged: benchmarks parse stdout lines, and on a
    failure the tail of both together is what explains it.
    """
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(a) for a in argv],
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        timed_out = False
        try:
            if stdin is not None and proc.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write(stdin)
                proc.stdin.close()
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            kill_group(proc)
        seconds = time.perf_counter() - start
        out.seek(0)
        return Completed(proc.returncode if not timed_out else -9, out.read(), seconds, timed_out)


def check(argv: Sequence[str | Path], timeout: float, cwd: Path | None = None, what: str = "") -> Completed:
    """:func:`run` that raises BenchError (with the output's tail) unless the command succeeds."""
    done = run(argv, timeout, cwd=cwd)
    if done.timed_out or done.returncode != 0:
        tail = done.stdout.decode(errors="replace")[-3000:]
        status = f"timed out after {timeout:.0f} s" if done.timed_out else f"exit {done.returncode}"
        raise BenchError(f"{what or Path(str(argv[0])).name} failed ({status}):\n{tail}")
    return done


class GuestTimeout(BenchError):
    """The marker did not appear in time (or QEMU exited first)."""


class Console(boot.Guest):
    """bench/boot.py's Guest (QEMU on pipes, timed from just before the fork),
    with raw writes and an expect that raises - what a raw-REPL session or a
    Linux guest's script run needs on top of a boot to the prompt.
    """

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise GuestTimeout(f"the guest exited before input was sent; output tail: {self.tail()!r}") from None

    def expect_or_fail(self, marker: bytes, timeout: float, fail: Sequence[bytes] = ()) -> tuple[bytes, float]:
        """Like expect(), but raising GuestTimeout with the console's tail; a ``fail``
        string seen first (a kernel panic) ends the wait at once."""
        deadline = time.perf_counter() + timeout
        while True:
            remaining = deadline - time.perf_counter()
            got = self.expect(marker, min(remaining, 0.5)) if remaining > 0 else None
            if got is not None:
                return got
            for bad in fail:
                if bad in self.buffer[self.pos :]:
                    raise GuestTimeout(f"{bad.decode(errors='replace')!r} before {marker!r}: {self.tail()!r}")
            if time.perf_counter() >= deadline or self.proc.poll() is not None:
                what = "no" if self.proc.poll() is None else f"QEMU exited ({self.proc.poll()}) with no"
                raise GuestTimeout(f"{what} {marker!r} within {timeout:.0f} s; output tail: {self.tail()!r}")


RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n>"


def raw_exec(console: Console, code: str, timeout: float) -> tuple[str, str, float]:
    """Run ``code`` through MicroPython's raw REPL; (stdout, stderr, host seconds).

    The protocol is mpremote's: Ctrl-A, the code, Ctrl-D; then "OK", the
    output, Ctrl-D, the error text, Ctrl-D, ">".
    """
    console.write(b"\r\x01")
    console.expect_or_fail(RAW_REPL_BANNER, timeout=30)
    console.write(code.encode() + b"\x04")
    _, sent = console.expect_or_fail(b"OK", timeout=timeout)
    out, _ = console.expect_or_fail(b"\x04", timeout=timeout)
    err, done = console.expect_or_fail(b"\x04>", timeout=timeout)
    return out.decode(errors="replace"), err.decode(errors="replace"), done - sent


@dataclass(frozen=True)
class Stats:
    """Median and spread of repeated measurements."""

    n: int
    median: float
    minimum: float
    maximum: float
    stdev: float
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        vals = tuple(values)
        if not vals:
            raise BenchError("no successful measurement")
        return cls(
            n=len(vals),
            median=statistics.median(vals),
            minimum=min(vals),
            maximum=max(vals),
            stdev=statistics.stdev(vals) if len(vals) > 1 else 0.0,
            values=vals,
        )

    def as_dict(self, scale: float = 1.0, digits: int = 2) -> dict[str, object]:
        """JSON-ready, scaled (e.g. 1000 for seconds -> ms)."""
        return {
            "n": self.n,
            "median": round(self.median * scale, digits),
            "min": round(self.minimum * scale, digits),
            "max": round(self.maximum * scale, digits),
            "stdev": round(self.stdev * scale, digits),
            "values": [round(v * scale, digits) for v in self.values],
        }


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process's threads have used so far, from
    /proc/PID/task/*/schedstat (nanoseconds). Unlike wall-clock time it does
    not grow while the process waits for a CPU, so on a loaded host it tells
    what a guest costs where a timing tells mostly what the load was."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def ratio(a: float, b: float, digits: int = 3) -> float | None:
    """a / b rounded, or None when b is zero (nothing measured)."""
    return round(a / b, digits) if b else None


@contextlib.contextmanager
def _bench_build_root() -> Iterator[None]:
    """Point pyunik.build at build/bench/images for the duration of one build.

    build_dir() reads BUILD_ROOT when it is called; this keeps our make tree
    apart from the one `invoke build` and the tests use (two makes in one
    tree at once corrupt each other's objects).
    """
    saved = builder.BUILD_ROOT
    builder.BUILD_ROOT = IMAGES
    try:
        yield
    finally:
        builder.BUILD_ROOT = saved


_images: dict[tuple[str, bool, int | None], builder.Image] = {}


def image(board_name: str, seal: bool = True, seed: int | None = None) -> builder.Image:
    """The board's image (no app: it boots to the REPL), built once per run.

    ``seed`` is `invoke build --seed`'s link order (None: the usual one).
    Every link order is relinked in the board's one build directory, so each
    image is copied out to ``link-SEED/`` beside it: an image handed out
    earlier stays the one it was when a later seed relinks.

    A failed build is retried once from a fresh frozen_content.c: makemanifest
    regenerates that file only when a .mpy is newer, so after the port's qstr
    set changes (a module switched on in mpconfigport.h) the stale file
    redeclares a qstr enumerator and the build fails until it is removed.
    """
    key = (board_name, seal, seed)
    if key not in _images:
        order = "" if seed is None else f", link order {seed}"
        log(f"building {board_name}{'' if seal else ' with seal = false'}{order}")
        board = dataclasses.replace(boards.load(board_name), seal=seal)
        with _bench_build_root():
            try:
                built = builder.build(board, seed=seed)
            except builder.BuildError:
                stale = builder.build_dir(board)
                log(f"build of {board_name} failed; retrying once without {stale.name}/frozen_content.c")
                (stale / "frozen_content.c").unlink(missing_ok=True)
                built = builder.build(board, seed=seed)
        kept = built.build_dir / f"link-{'usual' if seed is None else seed}"
        kept.mkdir(exist_ok=True)
        elf, stripped = kept / built.elf.name, kept / built.stripped.name
        shutil.copyfile(built.elf, elf)
        shutil.copyfile(built.stripped, stripped)
        _images[key] = dataclasses.replace(built, elf=elf, stripped=stripped)
    return _images[key]


_app_images: dict[tuple[str, Path], builder.Image] = {}


def app_image(board_name: str, app: Path) -> builder.Image:
    """The board's image with ``app`` frozen in (build/bench/images/BOARD/apps/NAME), built once per run."""
    key = (board_name, app)
    if key not in _app_images:
        log(f"building {board_name} with {app.relative_to(ROOT)}")
        with _bench_build_root():
            _app_images[key] = builder.build(boards.load(board_name), app=builder.App.load(app))
    return _app_images[key]


def pyunik_argv(board_name: str, memory: str | None = None) -> list[str]:
    """QEMU argv for the board's image as bench/boot.py makes it (`invoke run`'s, on
    the stripped ELF), plus -no-reboot: a triple fault then ends QEMU instead
    of a reboot loop that only the deadline would end."""
    return boot.pyunik_argv(image(board_name), memory=memory, extra=["-no-reboot"])


def accel_of(argv: Sequence[str]) -> str:
    return argv[argv.index("-accel") + 1] if "-accel" in argv else "tcg"


def program(name: str) -> str:
    """The text of a device-side program in bench/programs/."""
    return (PROGRAMS / name).read_text(encoding="utf-8")
