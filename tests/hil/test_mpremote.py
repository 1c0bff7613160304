"""The ordinary MicroPython tools work on the booted image.

mpremote is run as ``sys.executable -m mpremote``: the one installed in this
Python environment (a dependency of pyunik), found whether or not the venv's
bin/ is on PATH (under `.venv/bin/invoke test` it is not). It skips only when
the module cannot be imported, and that skip fails in CI (ci_required).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from conftest import Guest


def mpremote() -> list[str]:
    if importlib.util.find_spec("mpremote") is None:
        pytest.skip(f"mpremote is not importable by {sys.executable} (pip install -e . installs it)")
    return [sys.executable, "-m", "mpremote"]


def test_mpremote_exec(guest: Guest) -> None:
    result = subprocess.run(
        [*mpremote(), "connect", guest.pty, "exec", "print(sum(range(10)))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "45"


def test_mpremote_eval_and_run_again(guest: Guest) -> None:
    # Two sessions one after the other on the same guest: the raw REPL must
    # come back cleanly each time.
    for expected in ("[0, 1, 4]", "[0, 1, 4]"):
        result = subprocess.run(
            [*mpremote(), "connect", guest.pty, "eval", "[i * i for i in range(3)]"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
