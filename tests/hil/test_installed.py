"""pyunik from an app's own repository: a non-editable install, no checkout.

From a temporary directory: pyunik is pip-installed (not editable) into a
new virtual environment from a copy of this tree; an app with its own
boards/ next to it is built there with ``pyunik build --board B --app .``,
and the image boots. The product's files come from the wheel's package data,
the pinned sources go to the cache directory (PYUNIK_CACHE), the image to
the app's build/ - nothing is read from or written to the checkout.

The new environment gets pyunik's dependencies from this one's
site-packages (a .pth file) instead of downloading and compiling them
again (libvirt-python); pyunik itself is built by pip as a user's pip
would (an isolated build, setuptools from the package index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from pyunik import board as boards
from pyunik import vm

ROOT = boards.ROOT
APP_MAIN = """\
import sys

import board

print("myapp: built outside the checkout for", board.name)
sys.exit(3)
"""


def copy_tree(target: Path) -> None:
    """The checkout's files as git sees them (tracked and new, not ignored), links kept."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target / name)
        else:
            shutil.copy2(source, target / name)


def test_app_builds_and_boots_from_a_non_editable_install(tmp_path: Path) -> None:
    source = tmp_path / "pyunik-src"
    copy_tree(source)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "our-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    package = site / "pyunik"
    assert (package / "tree" / "port" / "Makefile").is_file()
    assert (site / "pyunik_plugins" / "device" / "uart16550" / "uart16550.c").is_file()
    assert not (site / "pyunik_plugins" / "device").is_symlink()
    # The rigs stay in the checkout: the wheel carries the product only.
    assert not (site / "rigs").exists() and not (package / "tree" / "rigs").exists()
    assert not list(package.glob("**/xenrig.py")) and not list(package.glob("**/conformance.py"))

    app = tmp_path / "myapp"
    (app / "boards" / "my-microvm").mkdir(parents=True)
    (app / "main.py").write_text(APP_MAIN)
    default = (ROOT / "boards" / boards.DEFAULT_BOARD / "board.toml").read_text()
    (app / "boards" / "my-microvm" / "board.toml").write_text(
        default.replace(f'name = "{boards.DEFAULT_BOARD}"', 'name = "my-microvm"')
    )
    cache = tmp_path / "cache"
    # The pinned tarballs this checkout already downloaded, so that `pyunik
    # deps` unpacks and patches them in the cache instead of downloading again.
    downloaded = ROOT / "deps" / ".apt" / "dl"
    if downloaded.is_dir():
        shutil.copytree(downloaded, cache / "deps" / ".apt" / "dl")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MICROPY_DIR", "LWIP_DIR", "VIRTUAL_ENV", "PYTHONPATH")
    }
    env |= {"PYUNIK_CACHE": str(cache), "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}

    def pyunik(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "pyunik"), *args], cwd=app, env=env, capture_output=True, text=True, timeout=timeout
        )

    listed = pyunik("boards", timeout=60)
    assert listed.returncode == 0, listed.stderr
    offered = pyunik("--list", timeout=60)
    assert offered.returncode == 0 and "build" in offered.stdout, offered.stderr
    assert "conformance" not in offered.stdout
    assert "my-microvm" in listed.stdout and boards.DEFAULT_BOARD in listed.stdout

    built = pyunik("build", "--board", "my-microvm", "--app", ".", "--jobs", "2")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    elf = app / "build" / "my-microvm" / "apps" / "myapp" / "pyunik.elf"
    assert elf.is_file(), built.stdout
    # The sources went to the cache, nothing into the installed package.
    assert (cache / "deps" / "micropython" / "py" / "mpconfig.h").is_file()
    assert not (package / "tree" / "deps").exists() and not (package / "tree" / "build").exists()

    board = boards.load(app / "boards" / "my-microvm" / "board.toml")
    command = vm.qemu_command(
        board, elf, serial="stdio", plugin_args=["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    )
    booted = subprocess.run(command.argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert b"myapp: built outside the checkout for my-microvm" in booted.stdout, booted.stdout[-500:]
    assert vm.guest_status(booted.returncode) == 3
