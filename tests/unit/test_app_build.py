"""Apps: syntax errors are build errors with file:line, settings are checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyunik import build
from pyunik.board import ROOT
from pyunik.build import App, BuildError

# The invoke of this Python environment (the venv), not whatever is on PATH.
INVOKE = [sys.executable, "-m", "invoke"]


def make_app(tmp_path: Path, files: dict[str, str]) -> Path:
    app = tmp_path / "app"
    for name, text in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(text)
    return app


def test_syntax_error_is_reported_with_file_and_line(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"main.py": "print('ok')\n\ndef broken(:\n    pass\n", "lib/util.py": "x = 1\n"})
    with pytest.raises(BuildError) as info:
        build.check_syntax(App.load(app))
    assert str(info.value) == f"{app / 'main.py'}:3: SyntaxError: invalid syntax"


def test_syntax_error_in_a_package_module(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"main.py": "import lib.util\n", "lib/util.py": "x = (1,\n"})
    with pytest.raises(BuildError) as info:
        build.check_syntax(App.load(app))
    assert str(info.value).startswith(f"{app / 'lib' / 'util.py'}:")
    assert "SyntaxError" in str(info.value)


def test_good_app_passes(tmp_path: Path) -> None:
    build.check_syntax(App.load(make_app(tmp_path, {"main.py": "print('fine')\n"})))


def test_invoke_build_prints_one_line(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"main.py": "if True\n    pass\n"})
    result = subprocess.run(
        [*INVOKE, "build", "--app", str(app)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {app / 'main.py'}:1: SyntaxError: invalid syntax"
    assert "Traceback" not in result.stdout + result.stderr


def test_app_settings(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"main.py": "", "app.toml": 'after_main = "repl"\n'})
    assert App.load(app).after_main == "repl"
    assert App.load(app, after_main="shutdown").after_main == "shutdown"  # the command line wins
    assert App.load(make_app(tmp_path / "b", {"main.py": ""})).after_main == "shutdown"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('after_main = "sleep"\n', "after_main is 'sleep'; fix: use one of repl, shutdown"),
        ('after = "repl"\n', "key 'after' is unknown; fix: remove it (keys: after_main, romfs)"),
        ("after_main = \n", "not valid TOML"),
    ],
)
def test_bad_app_settings(tmp_path: Path, toml: str, message: str) -> None:
    app = make_app(tmp_path, {"main.py": "", "app.toml": toml})
    with pytest.raises(BuildError, match=re.escape(message)):
        App.load(app)


def test_app_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="is not a directory"):
        App.load(tmp_path / "missing")
