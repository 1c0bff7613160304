"""The plugin manager: discovery, resolution and ordering.

Plugins, built-in or third-party, are found one way only: as entry points of
the ``pyunik`` group. The core never imports a plugin by name.
"""

from __future__ import annotations

import difflib
import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from pyunik import hookspecs
from pyunik.board import Board, BoardError
from pyunik.hookspecs import Component, PluginInfo

#: What every image needs from its plugins: capability -> (why, an example).
REQUIRED_CAPABILITIES = {
    "console": ("the REPL needs one", "uart16550"),
    "clock": ("time and asyncio need one", "tsc-clock"),
}


class PluginError(BoardError):
    """A board whose plugins cannot be resolved; one line, ready to print."""


@dataclass(frozen=True)
class Plugin:
    """A discovered plugin: what it says of itself, and where it came from."""

    info: PluginInfo
    obj: object
    origin: str  # "built-in" or the distribution that provides it

    @property
    def name(self) -> str:
        return self.info.name


@dataclass(frozen=True)
class Selected:
    """A plugin chosen for a board, with its checked options."""

    plugin: Plugin
    options: dict[str, Any]

    @property
    def name(self) -> str:
        return self.plugin.name


def _origin(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    if dist is None or dist.metadata["Name"] == "pyunik":
        return "built-in"
    return f"{dist.metadata['Name']} {dist.version}"


class PluginManager:
    """The registry of every plugin installed in this Python environment."""

    def __init__(self, extra: Iterable[object] = (), ignore: Iterable[str] = ()) -> None:
        """All installed plugins but the entry points named in ``ignore``, then ``extra``.

        ``ignore`` lets a caller (a test) see an environment without some
        installed plugins, e.g. with exactly one console, whatever is installed.
        """
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs.PyunikSpec)
        self.plugins: dict[str, Plugin] = {}
        ignored = set(ignore)
        for entry_point in importlib.metadata.entry_points(group=hookspecs.PROJECT):
            if entry_point.name not in ignored:
                self._add(entry_point.load(), _origin(entry_point))
        for obj in extra:
            self._add(obj, "given")

    def _add(self, obj: object, origin: str) -> None:
        self.pm.register(obj)
        caller = self.pm.subset_hook_caller("pyunik_plugin", remove_plugins=self._others(obj))
        info = caller()
        if not isinstance(info, PluginInfo):
            self.pm.unregister(obj)
            raise PluginError(f"plugin {obj!r} ({origin}): pyunik_plugin() must return a PluginInfo")
        if info.name in self.plugins:
            first = self.plugins[info.name]
            raise PluginError(
                f"plugin '{info.name}' is provided twice: by {first.origin} and by {origin}; uninstall one"
            )
        self.plugins[info.name] = Plugin(info, obj, origin)

    def _others(self, obj: object) -> list[object]:
        return [p for p in self.pm.get_plugins() if p is not obj]

    def call(self, plugin: Plugin, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on one plugin only."""
        return self.pm.subset_hook_caller(hook, remove_plugins=self._others(plugin.obj))(**kwargs)

    # ---- resolution -----------------------------------------------------

    def resolve(self, board: Board) -> list[Selected]:
        """The board's plugins plus what they require, dependencies first.

        Errors name the board file and the plugin: an unknown plugin (with
        close matches), a missing requirement, two providers of an exclusive
        capability, a cycle, an invalid option value, no console.
        """
        where = board.where_file()
        chosen: dict[str, Plugin] = {}
        for name in board.plugins:
            chosen[name] = self._lookup(board, name)

        # Requirements: a plugin name, or a capability someone provides.
        # A capability nobody selected pulls in the one installed plugin
        # that provides it, if there is exactly one.
        pending = list(chosen.values())
        while pending:
            plugin = pending.pop()
            for need in plugin.info.requires:
                if self._satisfied(need, chosen):
                    continue
                candidates = [p for p in self.plugins.values() if p.name == need or need in p.info.provides]
                if len(candidates) != 1:
                    offer = ", ".join(sorted(p.name for p in candidates)) or "none installed"
                    raise PluginError(
                        f"{where}: plugin '{plugin.name}' requires '{need}', which no selected plugin provides; "
                        f"fix: add one of ({offer}) under [plugins]"
                    )
                chosen[candidates[0].name] = candidates[0]
                pending.append(candidates[0])

        for capability in sorted(hookspecs.EXCLUSIVE_CAPABILITIES):
            providers = sorted(p.name for p in chosen.values() if capability in p.info.provides)
            if len(providers) > 1:
                raise PluginError(
                    f"{where}: plugins '{providers[0]}' and '{providers[1]}' both provide '{capability}', "
                    "of which a board has one; fix: keep one of them under [plugins]"
                )
        for capability, (why, example) in REQUIRED_CAPABILITIES.items():
            if not any(capability in p.info.provides for p in chosen.values()):
                raise PluginError(
                    f"{where}: no plugin provides '{capability}', and {why}; "
                    f"fix: add a {capability} plugin under [plugins], e.g. {example} = {{}}"
                )

        ordered = self._order(board, chosen)
        return [Selected(p, self._options(board, p)) for p in ordered]

    def _lookup(self, board: Board, name: str) -> Plugin:
        if name in self.plugins:
            return self.plugins[name]
        close = difflib.get_close_matches(name, self.plugins, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise PluginError(
            f"{board.where_file()}: plugin '{name}' is unknown{hint}; fix: use an installed plugin "
            "(`invoke plugins` lists them) or pip install the package that provides it"
        )

    @staticmethod
    def _satisfied(need: str, chosen: dict[str, Plugin]) -> bool:
        return need in chosen or any(need in p.info.provides for p in chosen.values())

    @staticmethod
    def _order(board: Board, chosen: dict[str, Plugin]) -> list[Plugin]:
        """Dependencies before dependants; ties keep the board's order."""
        rank = {name: i for i, name in enumerate(chosen)}

        def deps(plugin: Plugin) -> list[Plugin]:
            found = [
                p
                for p in chosen.values()
                if p is not plugin and any(need == p.name or need in p.info.provides for need in plugin.info.requires)
            ]
            return sorted(found, key=lambda p: rank[p.name])

        done: list[Plugin] = []
        state: dict[str, str] = {}

        def visit(plugin: Plugin, path: list[str]) -> None:
            if state.get(plugin.name) == "done":
                return
            if state.get(plugin.name) == "visiting":
                cycle = " -> ".join([*path[path.index(plugin.name) :], plugin.name])
                raise PluginError(
                    f"{board.where_file()}: plugin '{plugin.name}' is in a requirement cycle: {cycle}; "
                    "fix: break the cycle in the plugins' requires"
                )
            state[plugin.name] = "visiting"
            for dep in deps(plugin):
                visit(dep, [*path, plugin.name])
            state[plugin.name] = "done"
            done.append(plugin)

        for plugin in sorted(chosen.values(), key=lambda p: rank[p.name]):
            visit(plugin, [])
        return done

    def _options(self, board: Board, plugin: Plugin) -> dict[str, Any]:
        given = board.plugins.get(plugin.name, {})
        schema = plugin.info.options
        options: dict[str, Any] = {}
        for key, value in given.items():
            where = board.where(f"plugins.{plugin.name}.{key}")
            if key not in schema:
                allowed = ", ".join(schema) or "none"
                raise PluginError(
                    f"{where} is not an option of plugin '{plugin.name}'; fix: remove it (options: {allowed})"
                )
            option = schema[key]
            if type(value) is not option.type:
                raise PluginError(
                    f"{where} is {type(value).__name__} {value!r}; fix: give a {option.type.__name__} ({option.help})"
                )
            if option.choices is not None and value not in option.choices:
                raise PluginError(f"{where} is {value!r}; fix: use one of {', '.join(map(repr, option.choices))}")
            too_small = option.minimum is not None and value < option.minimum
            too_large = option.maximum is not None and value > option.maximum
            if too_small or too_large:
                if option.minimum is not None and option.maximum is not None:
                    bound = f"keep it within {option.minimum}..{option.maximum}"
                elif option.minimum is not None:
                    bound = f"make it at least {option.minimum}"
                else:
                    bound = f"make it at most {option.maximum}"
                raise PluginError(f"{where} is {value!r}; fix: {bound} ({option.help})")
            options[key] = value
        for key, option in schema.items():
            options.setdefault(key, option.default)
        errors = self.call(plugin, "pyunik_validate_options", board=board, options=options) or []
        if errors:
            raise PluginError(f"{board.where('plugins.' + plugin.name)}: {errors[0]}")
        return options

    def components(self, board: Board, selected: list[Selected]) -> list[tuple[Selected, Component]]:
        """Each selected plugin's contribution to ``board``, in init order."""
        out = []
        for sel in selected:
            component = self.call(sel.plugin, "pyunik_component", board=board, options=sel.options)
            out.append((sel, component if component is not None else Component()))
        return sorted(out, key=lambda pair: pair[1].init_order)
