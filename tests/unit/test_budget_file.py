"""bench/budgets.py: the limits file and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import budgets
from pyunik import board as boards


def test_every_board_has_an_image_budget() -> None:
    for name in boards.board_names():
        assert budgets.limit("stripped_image_kib", name) > 0


def test_default_board_has_a_memory_budget() -> None:
    assert budgets.limit("least_memory_kib", boards.DEFAULT_BOARD) > 1024


def test_missing_board_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text("[stripped_image_kib]\nqemu-microvm = 400\n")
    with pytest.raises(budgets.BudgetError) as exc:
        budgets.limit("stripped_image_kib", "qemu-new-board", path)
    assert str(exc.value) == (
        f"{path}: no key 'stripped_image_kib.qemu-new-board'; fix: add `qemu-new-board = N` "
        "under [stripped_image_kib] (the stripped image's size limit in KiB)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no [least_memory_kib] table"),
        ("[least_memory_kib]\nb = '1434K'\n", "key 'least_memory_kib.b' is '1434K'; fix: give a positive whole number"),
        ("[least_memory_kib\n", "not valid TOML"),
    ],
)
def test_bad_budget_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(text)
    with pytest.raises(budgets.BudgetError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        budgets.limit("least_memory_kib", "b", path)
