"""pyunik.board: loading board.toml files, and every way one can be wrong.

Each error is one line that names the file and the key; the tests write
board files under tmp_path and run from there, so the file shows up as the
relative path ``myboard/board.toml``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyunik import board as boards
from pyunik.board import BoardError, load, parse

GOOD = """\
name = "myboard"
description = "a board for tests"
"""
FILE = "myboard/board.toml"


@pytest.fixture
def board_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path/myboard/board.toml (not yet written), with tmp_path the cwd."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "myboard"
    directory.mkdir()
    return directory / "board.toml"


def error(path: Path, text: str) -> str:
    """The message of the BoardError that parsing ``text`` raises; checked to be one line naming the file."""
    with pytest.raises(BoardError) as info:
        parse(path, text)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{FILE}: "), message
    return message


# ---- happy paths ----------------------------------------------------------


def test_minimal_board_gets_defaults(board_file: Path) -> None:
    board = parse(board_file, GOOD)
    assert board.name == "myboard"
    assert board.description == "a board for tests"
    assert board.path == board_file
    assert board.arch == "x86_64"
    assert board.memory == "32M"
    assert board.plugins == {}
    assert board.app is None
    assert board.vm == boards.VmSettings(machine="microvm", accel="auto", args=(), cmdline="")


def test_full_board(board_file: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    board = parse(
        board_file,
        GOOD
        + f"""
arch = "x86_64"
memory = "1434K"
app = "{app}"

[plugins]
uart16550 = {{ port = 0x2f8 }}
isa-debug-exit = {{}}

[vm]
machine = "q35"
accel = "tcg"
args = ["-device", "foo"]
cmdline = "quiet"
""",
    )
    assert board.memory == "1434K"
    assert board.app == app.resolve()
    assert board.plugins == {"uart16550": {"port": 0x2F8}, "isa-debug-exit": {}}
    assert list(board.plugins) == ["uart16550", "isa-debug-exit"]  # board order is kept
    assert board.vm == boards.VmSettings(machine="q35", accel="tcg", args=("-device", "foo"), cmdline="quiet")


def test_where_names_file_and_key(board_file: Path) -> None:
    assert parse(board_file, GOOD).where("plugins.x") == f"{FILE}: key 'plugins.x'"


def test_any_file_name_skips_the_directory_check(tmp_path: Path) -> None:
    # Only a file called board.toml must match its directory's name.
    path = tmp_path / "elsewhere.toml"
    assert parse(path, GOOD).name == "myboard"


@pytest.mark.parametrize(("name", "machine"), [("qemu-microvm", "microvm"), ("qemu-q35", "q35")])
def test_real_boards_load(name: str, machine: str) -> None:
    board = load(name)
    assert board.name == name
    assert board.path == boards.BOARDS_DIR / name / "board.toml"
    assert board.description
    assert board.arch == "x86_64"
    assert board.memory == "32M"
    assert board.vm.machine == machine
    assert "uart16550" in board.plugins
    assert all(isinstance(options, dict) for options in board.plugins.values())


def test_board_names_lists_the_real_boards() -> None:
    names = boards.board_names()
    assert names == sorted(names)
    assert {"qemu-microvm", "qemu-q35"} <= set(names)
    assert boards.DEFAULT_BOARD in names


def test_load_by_path(board_file: Path) -> None:
    board_file.write_text(GOOD, encoding="utf-8")
    assert load(board_file).name == "myboard"
    assert load(FILE).name == "myboard"  # relative, containing a slash


# ---- load() errors --------------------------------------------------------


def test_unknown_board_lists_boards() -> None:
    with pytest.raises(BoardError) as info:
        load("nope")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown board 'nope'")
    assert "did you mean" not in message
    assert message.endswith("boards: " + ", ".join(boards.board_names()))
    assert "qemu-microvm" in message
    assert "qemu-q35" in message


def test_unknown_board_suggests_close_name() -> None:
    with pytest.raises(BoardError, match=r"^unknown board 'qemu-microv' \(did you mean 'qemu-microvm'\?\); boards: "):
        load("qemu-microv")


def test_missing_board_file(board_file: Path) -> None:
    with pytest.raises(BoardError) as info:
        load(FILE)
    assert str(info.value) == f"{FILE}: no such board file"


# ---- parse() errors -------------------------------------------------------


def test_toml_syntax_error(board_file: Path) -> None:
    message = error(board_file, 'name = "myboard\n')
    assert "not valid TOML" in message
    assert "fix the syntax" in message


def test_unknown_key_with_suggestion(board_file: Path) -> None:
    message = error(board_file, GOOD + 'memroy = "32M"\n')
    assert message == f"{FILE}: key 'memroy' is unknown; fix: remove it (did you mean 'memory'?)"


def test_unknown_key_without_suggestion_lists_allowed(board_file: Path) -> None:
    message = error(board_file, GOOD + "zzzzzz = 1\n")
    assert "key 'zzzzzz' is unknown" in message
    assert "allowed keys: name, description, arch, memory, plugins, app, vm" in message


def test_unknown_vm_key_with_suggestion(board_file: Path) -> None:
    message = error(board_file, GOOD + '[vm]\nmachien = "q35"\n')
    assert message == f"{FILE}: key 'vm.machien' is unknown; fix: remove it (did you mean 'vm.machine'?)"


def test_unknown_vm_key_lists_allowed_vm_keys(board_file: Path) -> None:
    message = error(board_file, GOOD + "[vm]\nzzzzzz = 1\n")
    assert "key 'vm.zzzzzz' is unknown" in message
    assert "allowed keys: vm.machine, vm.accel, vm.args, vm.cmdline" in message


@pytest.mark.parametrize(
    ("line", "key", "found", "wanted"),
    [
        ("memory = 32", "memory", "an integer", "a string"),
        ("memory = 1.5", "memory", "float", "a string"),
        ("arch = true", "arch", "true or false", "a string"),
        ('plugins = "uart16550"', "plugins", "a string", "a table"),
        ('app = ["x"]', "app", "a list", "a string"),
        ('vm = "microvm"', "vm", "a string", "a table"),
    ],
)
def test_wrong_type(board_file: Path, line: str, key: str, found: str, wanted: str) -> None:
    message = error(board_file, GOOD + line + "\n")
    assert message.startswith(f"{FILE}: key '{key}' is {found}; fix: make it {wanted} (")


def test_wrong_type_name(board_file: Path) -> None:
    message = error(board_file, 'name = 7\ndescription = "d"\n')
    assert message.startswith(f"{FILE}: key 'name' is an integer; fix: make it a string")


@pytest.mark.parametrize(
    ("table", "key", "found", "wanted"),
    [
        ("machine = 35", "vm.machine", "an integer", "a string"),
        ('args = "-s"', "vm.args", "a string", "a list"),
        ("cmdline = false", "vm.cmdline", "true or false", "a string"),
    ],
)
def test_wrong_type_in_vm(board_file: Path, table: str, key: str, found: str, wanted: str) -> None:
    message = error(board_file, GOOD + "[vm]\n" + table + "\n")
    assert message.startswith(f"{FILE}: key '{key}' is {found}; fix: make it {wanted} (")


@pytest.mark.parametrize("missing", ["name", "description"])
def test_missing_required_key(board_file: Path, missing: str) -> None:
    text = "".join(line + "\n" for line in GOOD.splitlines() if not line.startswith(missing))
    message = error(board_file, text)
    assert message.startswith(f"{FILE}: key '{missing}' is missing; fix: add {missing} = ... (")


def test_name_must_match_directory(board_file: Path) -> None:
    message = error(board_file, 'name = "other"\ndescription = "d"\n')
    assert message == (f"{FILE}: key 'name' is 'other'; fix: make it 'myboard', the name of the board's directory")


def test_bad_arch(board_file: Path) -> None:
    message = error(board_file, GOOD + 'arch = "aarch64"\n')
    assert message == f"{FILE}: key 'arch' is 'aarch64'; fix: make it \"x86_64\", the only one supported"


@pytest.mark.parametrize("memory", ["32", "32MB", "0M", "032M", "32m", "M", "", " 32M", "1.5G"])
def test_bad_memory(board_file: Path, memory: str) -> None:
    message = error(board_file, GOOD + f'memory = "{memory}"\n')
    assert message == f"{FILE}: key 'memory' is '{memory}'; fix: give a size like \"32M\" or \"1434K\""


@pytest.mark.parametrize("memory", ["1K", "32M", "2G", "1434K"])
def test_good_memory(board_file: Path, memory: str) -> None:
    assert parse(board_file, GOOD + f'memory = "{memory}"\n').memory == memory


@pytest.mark.parametrize(("value", "found"), [("1", "an integer"), ('"x"', "a string"), ("[]", "a list")])
def test_plugin_options_not_a_table(board_file: Path, value: str, found: str) -> None:
    message = error(board_file, GOOD + f"[plugins]\nuart16550 = {value}\n")
    assert message == (
        f"{FILE}: key 'plugins.uart16550' is {found}; fix: make it a table of options, {{}} when there are none"
    )


def test_bad_machine(board_file: Path) -> None:
    message = error(board_file, GOOD + '[vm]\nmachine = "virt"\n')
    assert message == f"{FILE}: key 'vm.machine' is 'virt'; fix: use one of microvm, q35, pc"


def test_bad_accel(board_file: Path) -> None:
    message = error(board_file, GOOD + '[vm]\naccel = "hvf"\n')
    assert message == f"{FILE}: key 'vm.accel' is 'hvf'; fix: use one of auto, tcg, kvm"


@pytest.mark.parametrize("args", ["[1]", '["-s", 2]', '["-s", ["x"]]', '[{ a = "b" }]'])
def test_vm_args_non_string(board_file: Path, args: str) -> None:
    message = error(board_file, GOOD + f"[vm]\nargs = {args}\n")
    assert message == f"{FILE}: key 'vm.args' has a non-string item; fix: quote every argument"


def test_app_missing_directory(board_file: Path) -> None:
    message = error(board_file, GOOD + 'app = "examples/no-such-app"\n')
    assert message == (f"{FILE}: key 'app' is 'examples/no-such-app', not a directory; fix: name an app directory")


def test_app_is_a_file(board_file: Path) -> None:
    # Relative to the repository, not to the board file: pyproject.toml is a file there.
    message = error(board_file, GOOD + 'app = "pyproject.toml"\n')
    assert "key 'app' is 'pyproject.toml', not a directory" in message


def test_app_relative_to_repository() -> None:
    board = parse(Path("x.toml"), GOOD + 'app = "boards"\n')
    assert board.app == boards.BOARDS_DIR


def test_unknown_key_reported_before_missing_name(board_file: Path) -> None:
    # Key check runs first: a misspelt name is reported as such, not as missing.
    message = error(board_file, 'nmae = "myboard"\ndescription = "d"\n')
    assert "key 'nmae' is unknown" in message
    assert "did you mean 'name'?" in message


def test_empty_app_is_an_error(board_file: Path) -> None:
    message = error(board_file, GOOD + 'app = ""\n')
    assert "key 'app'" in message


# ---- sealing (issue 16): native and seal --------------------------------


def test_native_and_seal_default_to_sealed(board_file: Path) -> None:
    board = parse(board_file, GOOD)
    assert (board.native, board.seal) == ("sealed", True)


@pytest.mark.parametrize(
    ("line", "native", "seal"), [('native = "off"', "off", True), ("seal = false", "sealed", False)]
)
def test_native_and_seal_given(board_file: Path, line: str, native: str, seal: bool) -> None:
    board = parse(board_file, GOOD + line + "\n")
    assert (board.native, board.seal) == (native, seal)


@pytest.mark.parametrize("native", ["on", "Sealed", "rwx", ""])
def test_bad_native(board_file: Path, native: str) -> None:
    message = error(board_file, GOOD + f'native = "{native}"\n')
    assert message == (
        f"{FILE}: key 'native' is '{native}'; fix: use \"sealed\" (native and viper code in a W^X arena) "
        'or "off" (no native emitters)'
    )


def test_seal_must_be_a_boolean(board_file: Path) -> None:
    message = error(board_file, GOOD + 'seal = "no"\n')
    assert message.startswith(f"{FILE}: key 'seal' is a string; fix: make it true or false")
