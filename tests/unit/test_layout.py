"""The product does not lean on the rigs.

What a user installs (pyunik/, plugins/ as pyunik_plugins, tasks.py as the
wheel's copy) must import without rigs/ and bench/, which stay in the
checkout: an import of them from product code would break `pyunik build`
outside a checkout. tasks.py may reach the rigs only inside a task that a
checkout runs (``_rigs()`` says so elsewhere), never at module level.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RIGS = ("rigs", "bench", "tests")
PRODUCT = sorted([*(ROOT / "pyunik").glob("*.py"), *(ROOT / "plugins").glob("*.py")])


def imported(tree: ast.AST, top_level_only: bool) -> list[tuple[int, str]]:
    nodes = tree.body if top_level_only and isinstance(tree, ast.Module) else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def rig_imports(path: Path, top_level_only: bool = False) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for line, name in imported(tree, top_level_only)
        if name.split(".")[0] in RIGS
    ]


def test_the_product_modules_are_found() -> None:
    names = {path.name for path in PRODUCT}
    assert {"build.py", "vm.py", "board.py", "sources.py", "uart16550.py"} <= names
    assert not {"xenrig.py", "conformance.py", "debian.py", "cpio.py"} & names


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(ROOT)))
def test_product_module_imports_no_rig(path: Path) -> None:
    assert rig_imports(path) == []


def test_tasks_import_no_rig_at_module_level() -> None:
    assert rig_imports(ROOT / "tasks.py", top_level_only=True) == []
    # ...and does reach them inside the tasks that need them (so the check above looks at real code).
    assert rig_imports(ROOT / "tasks.py")
