"""Where pyunik's files are, and where it writes.

The C port, the boards, the MicroPython patch series, west.yml, the gdb
helpers and the invoke tasks are files, not Python modules. In a checkout
they sit beside this package (the repository root); a wheel carries them
as package data under ``pyunik/tree/`` (pyproject.toml maps them there),
in the same layout, so :data:`ROOT` means the same in both.

pyunik never writes into an installed package: images go to ``build/``
under :data:`WORK` (the checkout, or the directory pyunik runs in, e.g. an
app's own repository), and the upstream sources ``invoke deps`` fetches go
to :data:`DEPS` (``deps/`` in a checkout, else a cache directory).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_BESIDE = PACKAGE.parent


def _is_checkout(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / "port" / "Makefile").is_file()


#: True when pyunik runs from a repository checkout (editable install, or
#: the tree on sys.path), False from an installed wheel.
CHECKOUT = _is_checkout(_BESIDE)
#: The product tree: port/, boards/, patches/, tools/, west.yml, tasks.py.
ROOT = _BESIDE if CHECKOUT else PACKAGE / "tree"


def _cache_dir() -> Path:
    if os.environ.get("PYUNIK_CACHE"):
        return Path(os.environ["PYUNIK_CACHE"]).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "pyunik"


#: Where build/ goes: the checkout, else the current directory (the app's repository).
WORK = ROOT if CHECKOUT else Path.cwd().resolve()
#: Where the pinned upstream sources go: deps/ in a checkout, else PYUNIK_CACHE
#: (default $XDG_CACHE_HOME/pyunik, ~/.cache/pyunik) + /deps. Never site-packages.
DEPS = ROOT / "deps" if CHECKOUT else _cache_dir() / "deps"
