"""`invoke bench` / `python -m bench`: run the benchmarks, write results.json, charts and summary.md.

Each benchmark's entry in results.json records when it ran and whether the
run was --quick; with --only, the other benchmarks' entries of an existing
results.json are kept, so one benchmark can be redone without the others.
A benchmark that fails is recorded with its error and the others still run;
the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import (
    asyncio_bench,
    boot,
    boot_time,
    clock,
    common,
    disk,
    entropy,
    interpreter,
    least_memory,
    net,
    report,
    seal,
    size,
    xen,
)

BENCHMARKS: dict[str, Callable[[bool], dict[str, object]]] = {
    "boot": boot_time.run,
    "size": size.run,
    "memory": least_memory.run,
    "interpreter": interpreter.run,
    "asyncio": asyncio_bench.run,
    "net": net.run,
    "disk": disk.run,
    "xen": xen.run,
    "seal": seal.run,
    "entropy": entropy.run,
    "clock": clock.run,
}


def choose(only: str) -> list[str]:
    names = [n.strip() for n in only.replace(",", " ").split() if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"error: unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    return names


def write(results: dict[str, Any], out: Path) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def run(only: str = "", quick: bool = False, out: Path = common.WORK, report_only: bool = False) -> int:
    names = choose(only)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() and (only or report_only) else {}
    failed = []
    if not report_only:
        begun = time.perf_counter()
        meta = boot.host_facts()
        meta.update(date=time.strftime("%Y-%m-%dT%H:%M:%S%z"), quick=quick, only=names)
        flags = (f" --only {','.join(names)}" if only else "") + (" --quick" if quick else "")
        meta["command"] = "invoke bench" + flags
        results["meta"] = meta
        bar = _sections_bar(names)
        for name in names:
            common.log(f"== {name} ==")
            bar.section(name)
            started = time.perf_counter()
            try:
                entry = BENCHMARKS[name](quick)
            except common.BenchError as exc:
                entry = {"error": str(exc)[:2000]}
                failed.append(name)
                common.log(f"{name} failed: {str(exc)[:300]}")
            entry["seconds"] = round(time.perf_counter() - started, 1)
            entry["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            entry["quick"] = quick
            results[name] = entry
            bar.done()
            write(results, out)
        meta["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        meta["seconds"] = round(time.perf_counter() - begun, 1)
        write(results, out)
    pngs = report.charts(results, out)
    summary = report.markdown(results)
    (out / "summary.md").write_text(summary, encoding="utf-8")
    print(summary)
    shown = ", ".join(str(p.relative_to(common.ROOT)) if p.is_relative_to(common.ROOT) else str(p) for p in pngs)
    print(f"wrote {path} and {shown}" + (f" in {results['meta']['seconds']} s" if not report_only else ""))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="fewer runs and coarser bisection (under 5 minutes)")
    parser.add_argument("--out", type=Path, default=common.WORK, help="where results.json and the PNGs go")
    parser.add_argument("--report-only", action="store_true", help="redraw charts and summary from results.json")
    args = parser.parse_args(argv)
    return run(args.only, args.quick, args.out, args.report_only)


if __name__ == "__main__":
    sys.exit(main())


class _SectionsBar:
    """One rich progress bar over the sections, with the time left as rich
    estimates it; nothing when stderr is not a terminal (CI logs)."""

    def __init__(self, names: list[str]) -> None:
        import sys

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = None
        if sys.stderr.isatty():
            self.progress = Progress(
                TextColumn("bench: {task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                transient=True,
            )
            self.task = self.progress.add_task("starting", total=len(names))
            self.progress.start()

    def section(self, name: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=name)

    def done(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)
            if self.progress.finished:
                self.progress.stop()


def _sections_bar(names: list[str]) -> _SectionsBar:
    return _SectionsBar(names)
