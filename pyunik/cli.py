"""The ``pyunik`` command: the invoke tasks of tasks.py, for an installed pyunik.

Inside the checkout ``invoke build ...`` runs them; from an app's own
repository (pyunik pip-installed, no checkout) ``pyunik build --board B
--app .`` runs the same code. Only the tasks that work outside a checkout are
offered: the test, bench and conformance rigs need the repository.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from invoke import Collection, Program

from pyunik import paths

#: tasks.py's tasks (and collections) the command offers.
PRODUCT_TASKS = (
    "deps",
    "build",
    "run",
    "debug",
    "boards",
    "plugins",
    "xl-config",
    "libvirt-xml",
    "clean",
    "disk",
)


def load_tasks() -> ModuleType:
    """tasks.py of pyunik's tree (the checkout's, or the wheel's copy)."""
    path = paths.ROOT / "tasks.py"
    spec = importlib.util.spec_from_file_location("pyunik_tasks", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"pyunik: {path} is missing; fix: reinstall pyunik")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def namespace() -> Collection:
    full: Collection = load_tasks().ns
    chosen = Collection()
    for name in PRODUCT_TASKS:
        if name in full.collections:
            chosen.add_collection(full.collections[name])
        else:
            chosen.add_task(full.tasks[name])
    return chosen


def main(argv: list[str] | None = None) -> None:
    from importlib.metadata import version

    program = Program(namespace=namespace(), name="pyunik", binary="pyunik", version=version("pyunik"))
    program.run(argv if argv is None else ["pyunik", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
