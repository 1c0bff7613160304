"""Progress of long work on the terminal (rich), and silence in logs.

On a terminal, :func:`build_reporter` shows one live line per step of a
build (sources, plugins, frozen modules, compiling N files) that is replaced
as it goes, and :func:`download_reporter` a bar per download of ``invoke
deps`` (fed by apt's ``APT::Status-Fd``); when stderr is not a terminal (CI
logs, pipes) they print nothing and the caller's own summary lines are all
there is. Errors are not shown
here: they stay one line, printed by the caller.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.status import Status


class BuildReporter(Protocol):
    def step(self, text: str) -> None: ...
    def compiled(self, line: str) -> None: ...


class QuietReporter:
    """For logs: nothing while it runs."""

    def step(self, text: str) -> None:
        pass

    def compiled(self, line: str) -> None:
        pass


class LiveReporter:
    """One status line on the terminal, replaced at each step."""

    def __init__(self, status: Status) -> None:
        self.status = status
        self.count = 0
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)
        self.status.update(text)

    def compiled(self, line: str) -> None:
        words = line.split()
        if len(words) >= 2 and words[0] in ("CC", "GEN", "LINK", "MPY", "QSTR", "CPP"):
            self.count += words[0] == "CC"
            self.status.update(f"compiling: {self.count} C files; {words[0]} {words[-1].rsplit('/', 1)[-1]}")


def is_terminal() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def build_reporter() -> Iterator[BuildReporter]:
    """A live status line on a terminal, else a quiet reporter."""
    if not is_terminal():
        yield QuietReporter()
        return
    console = Console(stderr=True)
    with console.status("building", spinner="dots") as status:
        yield LiveReporter(status)


class DownloadReporter(Protocol):
    def update(self, label: str, percent: float, detail: str) -> None: ...


class QuietDownloads:
    """For logs: the caller's one line per download is all there is."""

    def update(self, label: str, percent: float, detail: str) -> None:
        pass


class LiveDownloads:
    """One rich progress bar per download label (``apt-get update``, a source package)."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.tasks: dict[str, TaskID] = {}

    def update(self, label: str, percent: float, detail: str) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.bars.add_task(label, total=100.0, detail="")
        self.bars.update(self.tasks[label], completed=percent, detail=detail)


@contextlib.contextmanager
def download_reporter() -> Iterator[DownloadReporter]:
    """Progress bars on a terminal, else a quiet reporter."""
    if not is_terminal():
        yield QuietDownloads()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}", style="dim"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bars:
        yield LiveDownloads(bars)


def parse_apt_status(line: str) -> tuple[float, str] | None:
    """(percent, text) from one ``APT::Status-Fd`` line, or None for other lines.

    apt writes ``dlstatus:ITEM:PERCENT:TEXT`` while it downloads and
    ``pmstatus:...`` while dpkg works; only downloads interest us here.
    """
    kind, _, rest = line.partition(":")
    if kind != "dlstatus":
        return None
    _item, _, rest = rest.partition(":")
    percent, _, text = rest.partition(":")
    try:
        return min(max(float(percent), 0.0), 100.0), text.strip()
    except ValueError:
        return None
