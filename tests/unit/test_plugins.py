"""pyunik.plugins: discovery, resolution, ordering and option checking.

The fake plugins here are objects with ``@hookimpl`` methods, given to
``PluginManager(extra=...)``. The manager also loads the installed entry
points (the built-in plugins), so every fake name starts with ``t-``.
"""

from __future__ import annotations

import importlib.metadata
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyunik import hookspecs
from pyunik import plugins as plugins_mod
from pyunik.board import Board, BoardError, parse
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl
from pyunik.plugins import PluginError, PluginManager

#: The capabilities every board must have; the base fake provides them all.
REQUIRED = tuple(getattr(plugins_mod, "REQUIRED_CAPABILITIES", {"console": None}))


def fake(
    name: str,
    provides: tuple[str, ...] = (),
    requires: tuple[str, ...] = (),
    options: dict[str, Option] | None = None,
    validate: Callable[[Board, dict[str, Any]], list[str]] | None = None,
    component: Component | None = None,
) -> object:
    """A plugin object named ``name``."""

    class Fake:
        def __repr__(self) -> str:
            return f"<fake {name}>"

        @hookimpl
        def pyunik_plugin(self) -> PluginInfo:
            return PluginInfo(
                name=name, description=f"fake {name}", provides=provides, requires=requires, options=options or {}
            )

        @hookimpl
        def pyunik_validate_options(self, board: Board, options: dict[str, Any]) -> list[str]:
            return validate(board, options) if validate else []

        @hookimpl
        def pyunik_component(self, board: Board, options: dict[str, Any]) -> Component | None:
            return component

    return Fake()


def base() -> object:
    """The fake that gives a board everything it must have (console, clock)."""
    return fake("t-base", provides=REQUIRED)


def make_board(tmp_path: Path, plugins: str) -> Board:
    """A board whose [plugins] table is the TOML ``plugins``."""
    path = tmp_path / "t" / "board.toml"
    return parse(path, f'name = "t"\ndescription = "test board"\n\n[plugins]\n{plugins}\n')


def names(selected: list[Any]) -> list[str]:
    return [sel.name for sel in selected]


def resolve_error(manager: PluginManager, board: Board) -> str:
    with pytest.raises(PluginError) as info:
        manager.resolve(board)
    message = str(info.value)
    assert "\n" not in message, message
    assert str(board.path) in message or board.where("x").split(": key")[0] in message, message
    return message


# ---- resolution order -----------------------------------------------------


def test_plugin_error_is_a_board_error() -> None:
    # tasks.py and the CLI catch BoardError to print one line.
    assert issubclass(PluginError, BoardError)


def test_board_order_kept_without_dependencies(tmp_path: Path) -> None:
    manager = PluginManager(extra=[fake("t-c"), base(), fake("t-a"), fake("t-b")])
    board = make_board(tmp_path, '"t-c" = {}\n"t-a" = {}\n"t-base" = {}\n"t-b" = {}')
    assert names(manager.resolve(board)) == ["t-c", "t-a", "t-base", "t-b"]


def test_dependency_before_dependant(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base(), fake("t-app", requires=("t-drv",)), fake("t-drv")])
    board = make_board(tmp_path, '"t-app" = {}\n"t-drv" = {}\n"t-base" = {}')
    assert names(manager.resolve(board)) == ["t-drv", "t-app", "t-base"]


def test_dependency_by_capability(tmp_path: Path) -> None:
    manager = PluginManager(
        extra=[base(), fake("t-httpd", requires=("t-netstack",)), fake("t-ip", provides=("t-netstack",))]
    )
    board = make_board(tmp_path, '"t-base" = {}\n"t-httpd" = {}\n"t-ip" = {}')
    assert names(manager.resolve(board)) == ["t-base", "t-ip", "t-httpd"]


def test_chain_of_dependencies(tmp_path: Path) -> None:
    manager = PluginManager(
        extra=[
            base(),
            fake("t-app", requires=("t-tcp",)),
            fake("t-tcp", requires=("t-nic",)),
            fake("t-nic", requires=("t-base",)),
        ]
    )
    board = make_board(tmp_path, '"t-app" = {}\n"t-tcp" = {}\n"t-nic" = {}\n"t-base" = {}')
    assert names(manager.resolve(board)) == ["t-base", "t-nic", "t-tcp", "t-app"]


def test_ties_keep_board_order_among_dependencies(tmp_path: Path) -> None:
    # t-app needs both t-y and t-x: they come first, in the board's order (y, x).
    manager = PluginManager(extra=[base(), fake("t-app", requires=("t-x", "t-y")), fake("t-x"), fake("t-y")])
    board = make_board(tmp_path, '"t-base" = {}\n"t-app" = {}\n"t-y" = {}\n"t-x" = {}')
    order = names(manager.resolve(board))
    assert order == ["t-base", "t-y", "t-x", "t-app"]


def test_every_dependency_precedes_its_dependant(tmp_path: Path) -> None:
    graph = {
        "t-a": ("t-d",),
        "t-b": ("t-a", "t-cap-c"),
        "t-c": (),
        "t-d": ("t-c",),
        "t-e": ("t-b", "t-d"),
    }
    extra = [base()] + [
        fake(n, requires=reqs, provides=("t-cap-c",) if n == "t-c" else ()) for n, reqs in graph.items()
    ]
    manager = PluginManager(extra=extra)
    board = make_board(tmp_path, '"t-e" = {}\n"t-b" = {}\n"t-base" = {}\n"t-a" = {}\n"t-d" = {}\n"t-c" = {}')
    order = names(manager.resolve(board))
    assert sorted(order) == sorted([*graph, "t-base"])
    provider = {"t-cap-c": "t-c"}
    for plugin, reqs in graph.items():
        for need in reqs:
            assert order.index(provider.get(need, need)) < order.index(plugin), order


# ---- requirements ---------------------------------------------------------


def test_requirement_pulled_in_by_capability(tmp_path: Path) -> None:
    widget = fake("t-widget-impl", provides=("t-widget",), options={"n": Option(int, 3, "n")})
    manager = PluginManager(extra=[base(), fake("t-app", requires=("t-widget",)), widget])
    board = make_board(tmp_path, '"t-base" = {}\n"t-app" = {}')
    selected = manager.resolve(board)
    assert names(selected) == ["t-base", "t-widget-impl", "t-app"]
    assert selected[1].options == {"n": 3}  # defaults for a pulled-in plugin
    assert selected[1].plugin.obj is widget


def test_requirement_pulled_in_by_name(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base(), fake("t-app", requires=("t-lib",)), fake("t-lib")])
    board = make_board(tmp_path, '"t-app" = {}\n"t-base" = {}')
    assert names(manager.resolve(board)) == ["t-lib", "t-app", "t-base"]


def test_requirement_pulled_in_transitively(tmp_path: Path) -> None:
    manager = PluginManager(
        extra=[base(), fake("t-app", requires=("t-mid",)), fake("t-mid", requires=("t-low",)), fake("t-low")]
    )
    board = make_board(tmp_path, '"t-app" = {}\n"t-base" = {}')
    assert names(manager.resolve(board)) == ["t-low", "t-mid", "t-app", "t-base"]


def installed_providers(capability: str) -> list[str]:
    """Entry-point names of the installed plugins that provide ``capability``."""
    return sorted(p.name for p in PluginManager().plugins.values() if capability in p.info.provides)


def test_required_capability_pulls_in_the_only_installed_provider(tmp_path: Path) -> None:
    # The console is pulled in from what is installed when a selected plugin asks for it.
    # Every installed console is left out (there are several: uart16550,
    # xen-console), so exactly one, a fake, is "installed" whatever this
    # environment holds.
    others = [c for c in REQUIRED if c != "console"]
    manager = PluginManager(
        extra=[fake("t-console", provides=("console",)), fake("t-rest", provides=tuple(others), requires=("console",))],
        ignore=installed_providers("console"),
    )
    assert [p.name for p in manager.plugins.values() if "console" in p.info.provides] == ["t-console"]
    board = make_board(tmp_path, '"t-rest" = {}')
    assert names(manager.resolve(board)) == ["t-console", "t-rest"]


def test_ignored_entry_points_are_not_loaded() -> None:
    installed = set(PluginManager().plugins)
    assert "uart16550" in installed
    assert set(PluginManager(ignore=["uart16550"]).plugins) == installed - {"uart16550"}


def test_missing_requirement(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base(), fake("t-app", requires=("t-nothing",))])
    board = make_board(tmp_path, '"t-base" = {}\n"t-app" = {}')
    message = resolve_error(manager, board)
    assert message == (
        f"{board.path}: plugin 't-app' requires 't-nothing', which no selected plugin provides; "
        "fix: add one of (none installed) under [plugins]"
    )


def test_requirement_with_two_installed_providers_is_not_guessed(tmp_path: Path) -> None:
    manager = PluginManager(
        extra=[
            base(),
            fake("t-app", requires=("t-fs",)),
            fake("t-fs-b", provides=("t-fs",)),
            fake("t-fs-a", provides=("t-fs",)),
        ]
    )
    board = make_board(tmp_path, '"t-base" = {}\n"t-app" = {}')
    message = resolve_error(manager, board)
    assert "plugin 't-app' requires 't-fs', which no selected plugin provides" in message
    assert "fix: add one of (t-fs-a, t-fs-b) under [plugins]" in message


def test_requirement_with_two_providers_is_fine_when_one_is_selected(tmp_path: Path) -> None:
    manager = PluginManager(
        extra=[
            base(),
            fake("t-app", requires=("t-fs",)),
            fake("t-fs-a", provides=("t-fs",)),
            fake("t-fs-b", provides=("t-fs",)),
        ]
    )
    board = make_board(tmp_path, '"t-base" = {}\n"t-app" = {}\n"t-fs-b" = {}')
    assert names(manager.resolve(board)) == ["t-base", "t-fs-b", "t-app"]


# ---- conflicts and cycles -------------------------------------------------


@pytest.mark.parametrize("capability", sorted(hookspecs.EXCLUSIVE_CAPABILITIES))
def test_two_providers_of_exclusive_capability(tmp_path: Path, capability: str) -> None:
    manager = PluginManager(
        extra=[base(), fake("t-one", provides=(capability,)), fake("t-two", provides=(capability,))]
    )
    board = make_board(tmp_path, '"t-two" = {}\n"t-base" = {}\n"t-one" = {}')
    message = resolve_error(manager, board)
    if capability in REQUIRED:  # t-base provides it too
        assert f"both provide '{capability}'" in message
    else:
        assert message == (
            f"{board.path}: plugins 't-one' and 't-two' both provide '{capability}', "
            "of which a board has one; fix: keep one of them under [plugins]"
        )


def test_two_clocks(tmp_path: Path) -> None:
    # Two fake clocks and none of the installed ones: the same two whatever is installed.
    manager = PluginManager(
        extra=[
            fake("t-con", provides=("console",)),
            fake("t-c1", provides=("clock",)),
            fake("t-c2", provides=("clock",)),
        ],
        ignore=installed_providers("clock"),
    )
    board = make_board(tmp_path, '"t-con" = {}\n"t-c1" = {}\n"t-c2" = {}\n')
    message = resolve_error(manager, board)
    assert "plugins 't-c1' and 't-c2' both provide 'clock'" in message


def test_non_exclusive_capability_may_have_two_providers(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base(), fake("t-n1", provides=("netif",)), fake("t-n2", provides=("netif",))])
    board = make_board(tmp_path, '"t-base" = {}\n"t-n1" = {}\n"t-n2" = {}')
    assert names(manager.resolve(board)) == ["t-base", "t-n1", "t-n2"]


def test_cycle_by_name(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base(), fake("t-a", requires=("t-b",)), fake("t-b", requires=("t-a",))])
    board = make_board(tmp_path, '"t-base" = {}\n"t-a" = {}\n"t-b" = {}')
    message = resolve_error(manager, board)
    assert message == (
        f"{board.path}: plugin 't-a' is in a requirement cycle: t-a -> t-b -> t-a; "
        "fix: break the cycle in the plugins' requires"
    )


def test_cycle_through_capabilities(tmp_path: Path) -> None:
    manager = PluginManager(
        extra=[
            base(),
            fake("t-a", provides=("t-cap-a",), requires=("t-cap-b",)),
            fake("t-b", provides=("t-cap-b",), requires=("t-cap-c",)),
            fake("t-c", provides=("t-cap-c",), requires=("t-cap-a",)),
        ]
    )
    board = make_board(tmp_path, '"t-base" = {}\n"t-b" = {}\n"t-a" = {}\n"t-c" = {}')
    message = resolve_error(manager, board)
    assert "requirement cycle: t-b -> t-c -> t-a -> t-b;" in message


def test_cycle_not_reaching_back_to_start(tmp_path: Path) -> None:
    # t-a -> t-b -> t-c -> t-b: the cycle shown is only the loop.
    manager = PluginManager(
        extra=[
            base(),
            fake("t-a", requires=("t-b",)),
            fake("t-b", requires=("t-c",)),
            fake("t-c", requires=("t-b",)),
        ]
    )
    board = make_board(tmp_path, '"t-base" = {}\n"t-a" = {}')
    message = resolve_error(manager, board)
    assert "plugin 't-b' is in a requirement cycle: t-b -> t-c -> t-b;" in message


def test_plugin_providing_what_it_requires_is_not_a_cycle(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base(), fake("t-self", provides=("t-x",), requires=("t-x",))])
    board = make_board(tmp_path, '"t-base" = {}\n"t-self" = {}')
    assert names(manager.resolve(board)) == ["t-base", "t-self"]


# ---- unknown plugins ------------------------------------------------------


def test_unknown_plugin_with_suggestion(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base()])
    board = make_board(tmp_path, '"t-bsae" = {}')
    message = resolve_error(manager, board)
    assert message.startswith(f"{board.path}: plugin 't-bsae' is unknown (did you mean 't-base'")
    assert "fix: use an installed plugin (`invoke plugins` lists them) or pip install" in message


def test_unknown_plugin_suggests_built_in(tmp_path: Path) -> None:
    manager = PluginManager()
    board = make_board(tmp_path, "uart1655 = {}")
    assert "plugin 'uart1655' is unknown (did you mean 'uart16550'" in resolve_error(manager, board)


def test_unknown_plugin_without_close_match(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base()])
    board = make_board(tmp_path, '"t-base" = {}\nzzzzzzzzzzzz = {}')
    message = resolve_error(manager, board)
    assert "plugin 'zzzzzzzzzzzz' is unknown; fix:" in message
    assert "did you mean" not in message


# ---- required capabilities ------------------------------------------------


@pytest.mark.parametrize("capability", REQUIRED)
def test_missing_required_capability(tmp_path: Path, capability: str) -> None:
    others = tuple(c for c in REQUIRED if c != capability)
    manager = PluginManager(extra=[fake("t-partial", provides=others)])
    board = make_board(tmp_path, '"t-partial" = {}')
    message = resolve_error(manager, board)
    assert message.startswith(f"{board.path}: no plugin provides '{capability}', and ")
    assert f"fix: add a {capability} plugin under [plugins], e.g. " in message


def test_no_console(tmp_path: Path) -> None:
    manager = PluginManager(extra=[fake("t-noconsole", provides=tuple(c for c in REQUIRED if c != "console"))])
    board = make_board(tmp_path, '"t-noconsole" = {}')
    message = resolve_error(manager, board)
    assert "no plugin provides 'console', and the REPL needs one" in message
    assert "e.g. uart16550 = {}" in message


def test_empty_board_has_no_console(tmp_path: Path) -> None:
    board = parse(tmp_path / "t" / "board.toml", 'name = "t"\ndescription = "d"\n')
    assert "no plugin provides 'console'" in resolve_error(PluginManager(), board)


# ---- options --------------------------------------------------------------

OPTIONS = {
    "size": Option(int, 4, "how many", minimum=1, maximum=8),
    "mode": Option(str, "a", "the mode", choices=("a", "b")),
    "flag": Option(bool, False, "on or off"),
    "speed": Option(int, 9600, "line speed", choices=(9600, 115200)),
}


def options_board(tmp_path: Path, given: str, **kwargs: Any) -> tuple[PluginManager, Board, object]:
    plugin = fake("t-opt", options=kwargs.pop("options", OPTIONS), **kwargs)
    manager = PluginManager(extra=[base(), plugin])
    return manager, make_board(tmp_path, f'"t-base" = {{}}\n"t-opt" = {{ {given} }}'), plugin


def option_error(tmp_path: Path, given: str, **kwargs: Any) -> str:
    manager, board, _ = options_board(tmp_path, given, **kwargs)
    with pytest.raises(PluginError) as info:
        manager.resolve(board)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_defaults_filled_in(tmp_path: Path) -> None:
    manager, board, _ = options_board(tmp_path, "")
    selected = {sel.name: sel.options for sel in manager.resolve(board)}
    assert selected["t-opt"] == {"size": 4, "mode": "a", "flag": False, "speed": 9600}
    assert selected["t-base"] == {}


def test_given_options_override_defaults(tmp_path: Path) -> None:
    manager, board, _ = options_board(tmp_path, 'size = 8, mode = "b", flag = true')
    selected = {sel.name: sel.options for sel in manager.resolve(board)}
    assert selected["t-opt"] == {"size": 8, "mode": "b", "flag": True, "speed": 9600}


def test_option_bounds_are_inclusive(tmp_path: Path) -> None:
    manager, board, _ = options_board(tmp_path, "size = 1")
    assert {s.name: s.options for s in manager.resolve(board)}["t-opt"]["size"] == 1


def test_unknown_option(tmp_path: Path) -> None:
    message = option_error(tmp_path, "sise = 4")
    where = f"{board_display(tmp_path)}: key 'plugins.t-opt.sise'"
    assert message == (f"{where} is not an option of plugin 't-opt'; fix: remove it (options: size, mode, flag, speed)")


def test_unknown_option_of_plugin_without_options(tmp_path: Path) -> None:
    manager = PluginManager(extra=[base()])
    board = make_board(tmp_path, '"t-base" = { x = 1 }')
    with pytest.raises(PluginError) as info:
        manager.resolve(board)
    assert str(info.value).endswith(
        "key 'plugins.t-base.x' is not an option of plugin 't-base'; fix: remove it (options: none)"
    )


@pytest.mark.parametrize(
    ("given", "shown", "wanted"),
    [
        ('size = "4"', "str '4'", "int"),
        ("size = true", "bool True", "int"),  # a bool is not an int here
        ("size = 4.0", "float 4.0", "int"),
        ("mode = 1", "int 1", "str"),
        ("flag = 1", "int 1", "bool"),
        ('flag = "yes"', "str 'yes'", "bool"),
    ],
)
def test_option_wrong_type(tmp_path: Path, given: str, shown: str, wanted: str) -> None:
    key = given.split(" =")[0]
    message = option_error(tmp_path, given)
    assert message.startswith(
        f"{board_display(tmp_path)}: key 'plugins.t-opt.{key}' is {shown}; fix: give a {wanted} ("
    )
    assert message.endswith(f"({OPTIONS[key].help})")


@pytest.mark.parametrize(
    ("given", "key", "shown", "allowed"),
    [('mode = "c"', "mode", "'c'", "'a', 'b'"), ("speed = 19200", "speed", "19200", "9600, 115200")],
)
def test_option_not_in_choices(tmp_path: Path, given: str, key: str, shown: str, allowed: str) -> None:
    message = option_error(tmp_path, given)
    where = f"{board_display(tmp_path)}: key 'plugins.t-opt.{key}'"
    assert message == f"{where} is {shown}; fix: use one of {allowed}"


@pytest.mark.parametrize("value", [0, -1, 9, 1000])
def test_option_out_of_range(tmp_path: Path, value: int) -> None:
    message = option_error(tmp_path, f"size = {value}")
    assert message == (
        f"{board_display(tmp_path)}: key 'plugins.t-opt.size' is {value}; fix: keep it within 1..8 (how many)"
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [(Option(int, 1, "at most ten", maximum=10), 11), (Option(int, 1, "not negative", minimum=0), -1)],
)
def test_option_one_sided_range_message(tmp_path: Path, option: Option, value: int) -> None:
    message = option_error(tmp_path, f"n = {value}", options={"n": option})
    assert f"key 'plugins.t-opt.n' is {value}; fix:" in message
    assert "None" not in message


def test_validate_options_error(tmp_path: Path) -> None:
    def validate(board: Board, options: dict[str, Any]) -> list[str]:
        return [f"size {options['size']} must be even", "second error"] if options["size"] % 2 else []

    message = option_error(tmp_path, "size = 3", validate=validate)
    assert message == f"{board_display(tmp_path)}: key 'plugins.t-opt': size 3 must be even"


def test_validate_options_sees_defaults_and_board(tmp_path: Path) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def validate(board: Board, options: dict[str, Any]) -> list[str]:
        seen.append((board.name, dict(options)))
        return []

    manager, board, _ = options_board(tmp_path, 'mode = "b"', validate=validate)
    manager.resolve(board)
    assert seen == [("t", {"size": 4, "mode": "b", "flag": False, "speed": 9600})]


def test_validate_options_not_called_for_other_plugins(tmp_path: Path) -> None:
    # Each plugin's hook is called for that plugin only.
    calls: list[str] = []
    manager = PluginManager(
        extra=[
            base(),
            fake("t-p", validate=lambda b, o: calls.append("t-p") or []),
            fake("t-q", validate=lambda b, o: calls.append("t-q") or []),
        ]
    )
    manager.resolve(make_board(tmp_path, '"t-base" = {}\n"t-p" = {}'))
    assert calls == ["t-p"]


def test_validate_options_error_for_built_in_schema(tmp_path: Path) -> None:
    manager = PluginManager(extra=[fake("t-clk", provides=tuple(c for c in REQUIRED if c != "console"))])
    board = make_board(tmp_path, '"t-clk" = {}\nuart16550 = { port = 0x10000 }')
    with pytest.raises(PluginError, match=r"key 'plugins\.uart16550\.port' is 65536; fix: keep it within 0\.\.65528"):
        manager.resolve(board)


def board_display(tmp_path: Path) -> str:
    """How board.where() names the test board's file."""
    return make_board(tmp_path, "").where("k").removesuffix(": key 'k'")


# ---- registration ---------------------------------------------------------


def test_same_name_twice_among_given() -> None:
    with pytest.raises(PluginError) as info:
        PluginManager(extra=[fake("t-dup"), fake("t-dup")])
    assert str(info.value) == "plugin 't-dup' is provided twice: by given and by given; uninstall one"


def test_same_name_as_installed_plugin() -> None:
    with pytest.raises(PluginError) as info:
        PluginManager(extra=[fake("uart16550", provides=("console",))])
    assert str(info.value) == "plugin 'uart16550' is provided twice: by built-in and by given; uninstall one"


def test_plugin_info_must_be_returned() -> None:
    class NoInfo:
        @hookimpl
        def pyunik_plugin(self) -> None:
            return None

    with pytest.raises(PluginError, match=r"pyunik_plugin\(\) must return a PluginInfo"):
        PluginManager(extra=[NoInfo()])


def test_components_in_init_order(tmp_path: Path) -> None:
    late = Component(init="late_init", init_order=90)
    early = Component(init="early_init", init_order=5)
    manager = PluginManager(
        extra=[base(), fake("t-late", component=late), fake("t-none"), fake("t-early", component=early)]
    )
    board = make_board(tmp_path, '"t-late" = {}\n"t-none" = {}\n"t-base" = {}\n"t-early" = {}')
    pairs = manager.components(board, manager.resolve(board))
    assert [sel.name for sel, _ in pairs] == ["t-early", "t-none", "t-base", "t-late"]
    assert pairs[0][1] is early
    assert pairs[1][1] == Component()  # no component: an empty one, default order 50
    assert pairs[-1][1] is late


# ---- entry-point discovery ------------------------------------------------


def test_built_in_plugins_come_from_entry_points() -> None:
    manager = PluginManager()
    entry_points = [
        ep
        for ep in importlib.metadata.entry_points(group="pyunik")
        if ep.dist is not None and ep.dist.metadata["Name"] == "pyunik"
    ]
    assert {"uart16550", "isa-debug-exit"} <= {ep.name for ep in entry_points}
    for ep in entry_points:
        assert ep.value.startswith("pyunik_plugins."), ep  # declared in pyproject.toml
        plugin = manager.plugins[ep.name]  # the entry point is named as its plugin
        assert plugin.origin == "built-in"
        assert plugin.obj is ep.load()
    assert {p.name for p in manager.plugins.values() if p.origin == "built-in"} == {ep.name for ep in entry_points}


def test_built_in_plugins_are_the_pyunik_plugins_modules() -> None:
    # The core never imports a plugin by name: the built-in ones are found as entry points too.
    built_in = [p for p in PluginManager().plugins.values() if p.origin == "built-in"]
    assert built_in
    for plugin in built_in:
        assert getattr(plugin.obj, "__name__", "").startswith("pyunik_plugins."), plugin


class FakeDistribution(importlib.metadata.Distribution):
    """An installed distribution that exists only in memory."""

    def __init__(self, name: str, version: str) -> None:
        self._metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"

    def read_text(self, filename: str) -> str | None:
        return self._metadata if filename in ("METADATA", "PKG-INFO") else None

    def locate_file(self, path: Any) -> Path:
        return Path("/nonexistent") / str(path)


@pytest.fixture
def third_party(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A plugin module ``fake_pyunik_rng`` registered by the distribution pyunik-rng 1.2.3."""
    module = types.ModuleType("fake_pyunik_rng")

    @hookimpl
    def pyunik_plugin() -> PluginInfo:
        return PluginInfo(name="rng", description="a random number generator", provides=("entropy",))

    @hookimpl
    def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
        return Component(init="rng_init")

    module.pyunik_plugin = pyunik_plugin  # type: ignore[attr-defined]
    module.pyunik_component = pyunik_component  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_pyunik_rng", module)

    entry_point = importlib.metadata.EntryPoint("rng", "fake_pyunik_rng", "pyunik")
    entry_point = entry_point._for(FakeDistribution("pyunik-rng", "1.2.3"))
    real = importlib.metadata.entry_points
    groups: list[Any] = []

    def entry_points(**params: Any) -> Any:
        groups.append(params.get("group"))
        found = list(real(**params))
        return [*found, entry_point] if params.get("group") == "pyunik" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    module.groups = groups  # type: ignore[attr-defined]
    return module


def test_third_party_entry_point(third_party: types.ModuleType) -> None:
    manager = PluginManager()
    assert third_party.groups == ["pyunik"]  # type: ignore[attr-defined]
    plugin = manager.plugins["rng"]
    assert plugin.origin == "pyunik-rng 1.2.3"
    assert plugin.obj is third_party
    assert plugin.info.provides == ("entropy",)
    assert manager.plugins["uart16550"].origin == "built-in"


def test_third_party_plugin_is_used_like_a_built_in(third_party: types.ModuleType, tmp_path: Path) -> None:
    manager = PluginManager(extra=[base()])
    board = make_board(tmp_path, '"t-base" = {}\nrng = {}')
    pairs = manager.components(board, manager.resolve(board))
    assert [sel.name for sel, _ in pairs] == ["t-base", "rng"]
    assert pairs[1][1].init == "rng_init"


def test_third_party_plugin_clashing_with_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fake_pyunik_uart")

    @hookimpl
    def pyunik_plugin() -> PluginInfo:
        return PluginInfo(name="uart16550", description="another uart", provides=("console",))

    module.pyunik_plugin = pyunik_plugin  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_pyunik_uart", module)
    entry_point = importlib.metadata.EntryPoint("uart16550", "fake_pyunik_uart", "pyunik")
    entry_point = entry_point._for(FakeDistribution("pyunik-uart", "0.9"))
    real = importlib.metadata.entry_points

    def entry_points(**params: Any) -> Any:
        return [*real(**params), entry_point] if params.get("group") == "pyunik" else real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    with pytest.raises(PluginError) as info:
        PluginManager()
    assert str(info.value) == (
        "plugin 'uart16550' is provided twice: by built-in and by pyunik-uart 0.9; uninstall one"
    )
