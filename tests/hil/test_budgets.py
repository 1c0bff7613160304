"""The deterministic budgets of bench/budgets.toml, asserted: stripped image size per board,
least -m of the default board. Each measured value is printed beside its limit.

Timing is not asserted anywhere in the tests: it is the bench's (`invoke bench`).
The least -m is found by bisection in QEMU's own 8 KiB steps between 1024K
(where the image loads: checked to fail, not assumed) and the budget
(checked to boot); about eight boots, a failed one ends at once (-no-reboot).
"""

from __future__ import annotations

import pytest

from bench import boot as bench_boot
from bench import budgets
from pyunik import board as boards

#: QEMU rounds -m up to this many KiB; bisecting in finer steps would only repeat boots.
STEP_KIB = bench_boot.QEMU_RAM_STEP_KIB


def _limit(section: str, board: str) -> int:
    try:
        return budgets.limit(section, board)
    except budgets.BudgetError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.mark.parametrize("board", boards.board_names())
def test_stripped_image_within_budget(image_for, board: str) -> None:  # type: ignore[no-untyped-def]
    limit = _limit("stripped_image_kib", board)
    size = image_for(board).stripped.stat().st_size
    print(f"\n{board}: stripped image {size / 1024:.1f} KiB (budget {limit} KiB, {budgets.PATH.name})")
    assert size <= limit * 1024, f"{board}: stripped image {size / 1024:.1f} KiB > {limit} KiB ({budgets.PATH})"


def test_least_memory_of_the_default_board_within_budget(image_for) -> None:  # type: ignore[no-untyped-def]
    board = boards.DEFAULT_BOARD
    limit = _limit("least_memory_kib", board)
    image = image_for(board)
    tries: list[dict[str, object]] = []

    def boots(steps: int) -> bool:
        session = bench_boot.boot_and_type(image, steps * STEP_KIB, [])
        tries.append({"kib": steps * STEP_KIB, "prompt": session.prompt, "failure": session.failure})
        return session.prompt

    low, high = bench_boot.MEMORY_LOW_KIB // STEP_KIB, limit // STEP_KIB
    least = bench_boot.bisect_least(boots, low, high, tries)
    assert least is not None, f"{board} does not reach the prompt at -m {high * STEP_KIB}K ({budgets.PATH}): {tries}"
    # bisect_least tried the low end too: a prompt there would mean the range is wrong, not a result.
    assert least > low, f"{board} reached the prompt at -m {low * STEP_KIB}K: the bisection's low end is wrong"
    least_kib = least * STEP_KIB
    print(f"\n{board}: least -m {least_kib}K in {STEP_KIB}K steps (budget {limit}K, {budgets.PATH.name}); {tries}")
    assert least_kib <= limit
