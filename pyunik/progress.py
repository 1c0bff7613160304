"""Progress of long work on the terminal (rich), and silence in logs.

On a terminal, :func:`build_reporter` shows one live line per step of a
build (sources, plugins, frozen modules, compiling N files) that is replaced
as it goes; when stderr is not a terminal (CI logs, pipes) it prints nothing
and the caller's own summary lines are all there is. Errors are not shown
here: they stay one line, printed by the caller.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Protocol

from rich.console import Console
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
