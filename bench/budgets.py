"""bench/budgets.toml: the deterministic limits CI asserts (image size, least -m), read in one place.

A missing file, section or board is one error naming the file, the key and the
fix, so that adding a board means adding one line to that file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

PATH = Path(__file__).resolve().parent / "budgets.toml"
#: What each section limits, for the error message.
SECTIONS = {
    "stripped_image_kib": "the stripped image's size limit in KiB",
    "least_memory_kib": "the least -m (KiB) with which it reaches the prompt",
}


class BudgetError(Exception):
    """The budget file lacks or garbles a limit; the message names the file, key and fix."""


def load(path: Path = PATH) -> dict[str, dict[str, int]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BudgetError(f"{path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BudgetError(f"{path}: not valid TOML: {exc}") from None
    return data


def limit(section: str, board: str, path: Path = PATH) -> int:
    """The limit for ``board`` under ``[section]``; BudgetError naming file and key when absent."""
    table = load(path).get(section)
    what = SECTIONS.get(section, "its limit")
    if not isinstance(table, dict):
        raise BudgetError(f"{path}: no [{section}] table; fix: add it, with `{board} = N` ({what})")
    value = table.get(board)
    if value is None:
        raise BudgetError(f"{path}: no key '{section}.{board}'; fix: add `{board} = N` under [{section}] ({what})")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise BudgetError(f"{path}: key '{section}.{board}' is {value!r}; fix: give a positive whole number of KiB")
    return value
