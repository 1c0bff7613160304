"""pyunik's built-in plugins, one module each (installed as ``pyunik_plugins``).

Each is registered under the ``pyunik`` entry-point group in pyproject.toml,
exactly as a third-party plugin would be, and is a working example of the
contract in :mod:`pyunik.hookspecs`.
"""

from pathlib import Path

#: modules/ holds the device-side code of the built-in plugins.
MODULES_DIR = Path(__file__).resolve().parent.parent / "modules"
