"""pyunik's built-in plugins, one module each (installed as ``pyunik_plugins``).

Each is registered under the ``pyunik`` entry-point group in pyproject.toml,
exactly as a third-party plugin would be, and is a working example of the
contract in :mod:`pyunik.hookspecs`.
"""

from pathlib import Path

#: The device-side code of the built-in plugins, package data of this
#: package (device/), found as a third-party plugin finds its own. In a
#: checkout device/ is a link to the repository's modules/; a wheel holds
#: the files themselves.
MODULES_DIR = (Path(__file__).resolve().parent / "device").resolve()
