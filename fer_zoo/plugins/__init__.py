"""Plugin loading: entry points of the ``fer_zoo`` group, each loaded and called on its own.

A plugin that fails to import, whose hook raises (any ``BaseException``: ``sys.exit()``, a
``KeyboardInterrupt`` nobody pressed, a class of its own), that hands over a value of the wrong type
(``FER_ZOO_PLUGIN_API``, what ``register`` receives) or that registers invalid metadata is recorded
with its error and skipped; everything else keeps working. One that would end or hang the interpreter
is found first, in a child process (``fer_zoo.plugins.probe``). Set ``FER_ZOO_STRICT_PLUGINS=1`` to turn
every plugin warning into an error, and ``FER_ZOO_DISABLE_PLUGINS=dist-a,dist-b`` to skip
distributions by name.

Long because every value that comes from plugin code is checked here, where its plugin is known.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import metadata
from typing import Any

import pluggy

from fer_zoo.plugins import hookspecs
from fer_zoo.plugins import probe
from fer_zoo.errors import FerZooError, describe_exception, one_line
from fer_zoo.plugins.recipe import Recipe, registered
from fer_zoo.plugins.registry import Architecture, DatasetSource, FaceDetector, Option, PluginSource, Registry

ENTRY_POINT_GROUP = "fer_zoo"
BUILTIN_DISTRIBUTION = "fer-zoo"
STRICT_ENV = "FER_ZOO_STRICT_PLUGINS"
SLOW_IMPORT_SECONDS = 1.0  # a plugin slower to import than this slows every command: say so
DISABLE_ENV = "FER_ZOO_DISABLE_PLUGINS"


@dataclass
class Plugin:
    """One loaded (or failed) entry point."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)
    provides: dict[str, list[str]] = field(default_factory=dict)  # kind's plural -> the names it registered
    error: str | None = None
    disabled: bool = False
    incompatible: bool = False
    obj: Any = field(default=None, repr=False)

    def __getattr__(self, name: str) -> list[str]:
        """``plugin.architectures``, ``plugin.datasets``...: what it registered of each kind in KINDS."""
        if name in _PLURALS:
            return self.provides.setdefault(name, [])
        raise AttributeError(name)

    @property
    def source(self) -> PluginSource:
        return PluginSource(self.distribution, self.version, self.name)

    @property
    def label(self) -> str:
        return f"plugin {self.distribution} {self.version} (entry point {self.name!r})"

    @property
    def builtin(self) -> bool:
        return canonical(self.distribution) == BUILTIN_DISTRIBUTION

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "hooks": self.hooks,
            **{kind.plural: list(getattr(self, kind.plural)) for kind in KINDS},
            "status": "disabled" if self.disabled else (
                "incompatible" if self.incompatible else ("error" if self.error else "ok")),
            "error": self.error,
        }


@dataclass
class PluginSet:
    """Everything the plugins provided, and what went wrong, in one snapshot: one :class:`Registry` per kind
    in KINDS, read as ``plugin_set.architectures``, ``plugin_set.datasets``..."""

    plugins: list[Plugin]
    registries: dict[str, Registry]
    warnings: list[str]

    def __getattr__(self, name: str) -> Registry:
        registries = self.__dict__.get("registries", {})
        if name in registries:
            return registries[name]
        raise AttributeError(name)

    def raise_if_strict(self) -> None:
        """In strict mode (for plugin authors' CI) the first plugin warning is an error."""
        if strict_mode() and self.warnings:
            more = f" (and {len(self.warnings) - 1} more)" if len(self.warnings) > 1 else ""
            raise FerZooError(f"{self.warnings[0]}{more} [{STRICT_ENV}=1]")

    def get_architecture(self, name: str) -> Architecture:
        return self.architectures.get(name)


def api_incompatibility(required) -> str | None:
    """Why a plugin requiring plugin API ``required`` ("1.0") cannot load here, or None if it can."""
    from fer_zoo import PLUGIN_API_VERSION

    if required is None:
        return None
    try:
        need = tuple(int(p) for p in str(required).split("."))[:2]
        have = tuple(int(p) for p in PLUGIN_API_VERSION.split("."))[:2]
    except ValueError:
        return f"FER_ZOO_PLUGIN_API = {required!r} is not a version like \"1.0\""
    if need[0] != have[0] or need > have:
        return (f"incompatible: requires fer-zoo plugin API {required}, this fer-zoo {PLUGIN_API_VERSION}; "
                f"{'upgrade fer-zoo' if need > have else 'use a release of the plugin written for this API'}")
    return None


def canonical(distribution: str) -> str:
    """PEP 503 normalised distribution name, so 'My_Plugin' and 'my-plugin' are the same."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def strict_mode() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def disabled_distributions() -> set[str]:
    return {canonical(d) for d in os.environ.get(DISABLE_ENV, "").split(",") if d.strip()}


# Plugin objects registered in-process (tests, notebooks) rather than through entry points.
_local_plugins: list[tuple[Any, str]] = []
_current: PluginSet | None = None


def register(obj: Any, name: str) -> None:
    """Register a plugin object in this process, as if a distribution named ``name`` provided it."""
    _local_plugins.append((obj, name))
    reset()


def unregister(name: str) -> None:
    _local_plugins[:] = [(o, n) for o, n in _local_plugins if n != name]
    reset()


def reset() -> None:
    """Forget the loaded plugins; the next ``current()`` loads them again."""
    global _current
    _current = None


def current() -> PluginSet:
    """The plugins of this process, loaded once."""
    global _current
    if _current is None:
        _current = load()
    return _current


def checked() -> PluginSet:
    """:func:`current`, refused in strict mode (FER_ZOO_STRICT_PLUGINS) when a plugin failed to load: what
    every command and library call that uses plugins reads them through."""
    loaded = current()
    loaded.raise_if_strict()
    return loaded


def _entry_point_plugins() -> list[tuple[Plugin, metadata.EntryPoint | None]]:
    try:
        entry_points = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # one distribution's unreadable metadata: find it, and keep the others
        entry_points, broken = _entry_points_one_by_one()
    else:
        broken = []
    found = broken
    for ep in entry_points:
        dist = ep.dist
        name = (dist.metadata["Name"] if dist is not None else None) or "unknown"
        version = (dist.version if dist is not None else None) or "?"
        plugin = Plugin(name=ep.name, distribution=str(name), version=str(version), module=ep.value)
        if not ep.name.strip():
            plugin.error = "the entry point has no name: write `name = module` in [project.entry-points.fer_zoo]"
        found.append((plugin, ep))
    # Built-ins first, so they claim their names before anyone else; then a stable order.
    found.sort(key=lambda p: (not p[0].builtin, canonical(p[0].distribution), p[0].name))
    return found


def _entry_points_one_by_one() -> tuple[list[metadata.EntryPoint], list[tuple[Plugin, None]]]:
    """The group's entry points distribution by distribution, and each distribution whose metadata cannot be
    read as a failed plugin naming it (what ``metadata.entry_points`` does, without stopping at the first)."""
    found, broken, seen = [], [], set()
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"] or "unknown"
            if canonical(name) in seen:  # an earlier path entry shadows it, as importlib.metadata does
                continue
            seen.add(canonical(name))
            found += [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
        except Exception as exc:
            where = getattr(dist, "_path", None) or "a distribution"
            broken.append((Plugin(name="?", distribution=str(where), version="?", module="?",
                                  error=f"its metadata cannot be read: {describe_exception(exc)}"), None))
    return found, broken


class _Interrupts:
    """Tells the user's Ctrl-C from a ``KeyboardInterrupt`` a plugin raises by itself: SIGINT's handler,
    while plugin code runs, notes that the signal came before passing it on."""

    def __init__(self) -> None:
        self.pressed = False
        self.previous = None
        self.installed = False

    def _handler(self, signum, frame) -> None:
        self.pressed = True
        if callable(self.previous) and self.previous is not signal.default_int_handler:
            self.previous(signum, frame)  # the program's own handler decides, as it would have
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            try:
                self.previous = signal.getsignal(signal.SIGINT)
                if self.previous not in (signal.SIG_IGN, None):  # a SIGINT the user ignores stays ignored
                    signal.signal(signal.SIGINT, self._handler)
                    self.installed = True
            except (ValueError, OSError):  # no signals here (an embedded interpreter)
                pass
        # elsewhere SIGINT never reaches this thread: any KeyboardInterrupt in it was raised by code
        return self

    def rearm(self) -> None:
        """Undo a plugin's own SIGINT handler, so the next Ctrl-C is still seen (and the user's again after)."""
        if self.installed and signal.getsignal(signal.SIGINT) is not self._handler:
            signal.signal(signal.SIGINT, self._handler)

    def __exit__(self, *exc) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)


def contained(call: Callable[[], Any], interrupts: _Interrupts) -> tuple[Any, str | None]:
    """``(call(), None)``, or ``(None, why)`` for whatever ``call`` — plugin code — raised: any
    ``BaseException`` but the user's own Ctrl-C, which still ends the command. ``why`` reads after
    "failed: " ("ValueError: ...", "the plugin called sys.exit(3)")."""
    try:
        return call(), None
    except KeyboardInterrupt:
        if interrupts.pressed:
            raise
        return None, "the plugin raised KeyboardInterrupt while nobody pressed Ctrl-C"
    except SystemExit as exc:  # a plugin's sys.exit() must not end every command with its status
        return None, f"the plugin called sys.exit({_safe_repr(exc.code)})"
    except BaseException as exc:  # GeneratorExit, a plugin's own BaseException subclass: still the plugin's
        return None, describe_exception(exc)
    finally:
        interrupts.rearm()


def _safe_repr(value: Any) -> str:
    if value is None or isinstance(value, (int, str)):
        return repr(value) if isinstance(value, str) else str(value)
    return f"<{type(value).__name__}>"


def load() -> PluginSet:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    disabled = disabled_distributions()
    plugins: list[Plugin] = []
    warnings: list[str] = []

    found = _entry_point_plugins()
    for plugin, _ in found:
        if canonical(plugin.distribution) in disabled:
            plugin.disabled = True
    verdicts = probe.verdicts([(p, ep) for p, ep in found if ep is not None and not p.error and not p.disabled
                               and not p.builtin])
    for plugin, _ in found:
        plugin.error = plugin.error or verdicts.get(id(plugin))
    candidates = [(plugin, ep.load if ep is not None else None) for plugin, ep in found]
    candidates += [(Plugin(name=n, distribution=n, version="local", module=repr(o)), lambda o=o: o)
                   for o, n in _local_plugins]
    with _Interrupts() as interrupts:
        for plugin, load_object in candidates:
            plugins.append(plugin)
            if plugin.disabled or plugin.error:
                continue
            _load_one(pm, plugin, load_object, warnings, interrupts)
        claims = {kind: _call_register_hook(pm, plugins, kind, warnings, interrupts) for kind in KINDS}
    registries = {}
    for kind, claimed in claims.items():  # a plugin that failed in any hook contributes nothing of any kind
        winners, unavailable, kind_warnings = _resolve([(item, p) for item, p in claimed if not p.error],
                                                       kind.name, kind.plural)
        registries[kind.plural] = Registry(winners, kind.name, kind.listing, unavailable)
        warnings += kind_warnings
    # Errors first: they are what a user needs to read.
    warnings = [f"{p.label}: {p.error}" for p in plugins if p.error] + warnings
    return PluginSet(plugins, registries, [one_line(w) for w in warnings])


def _load_one(pm, plugin: Plugin, load_object, warnings: list[str], interrupts: _Interrupts) -> None:
    """Import one entry point and register it with ``pm``; what goes wrong becomes ``plugin.error``."""
    started = time.perf_counter()
    obj, error = contained(load_object, interrupts)
    if error:
        plugin.error = f"import failed: {error}"
        return
    plugin.obj = obj
    seconds = time.perf_counter() - started
    if seconds > SLOW_IMPORT_SECONDS:
        warnings.append(f"{plugin.label}: took {seconds:.1f} s to import, which every fer-zoo command pays; "
                        f"import heavy libraries (tensorflow, keras, torch) inside build()")
    required, error = contained(lambda: getattr(obj, "FER_ZOO_PLUGIN_API", None), interrupts)
    if error:
        plugin.error = f"reading FER_ZOO_PLUGIN_API failed: {error}"
        return
    if required is not None and not isinstance(required, str):
        plugin.error = f"FER_ZOO_PLUGIN_API must be a version string like \"1.0\", got {type(required).__name__}"
        return
    incompatible = api_incompatibility(required)
    if incompatible:
        plugin.error = incompatible
        plugin.incompatible = True
        return
    callers, error = contained(lambda: _register(pm, plugin), interrupts)
    if error:
        plugin.error = f"registration failed: {error}"
        return
    plugin.hooks = sorted(c.name for c in callers)
    unknown = sorted(c.name for c in callers if not c.has_spec())
    if unknown:
        warnings.append(f"{plugin.label}: implements unknown hook(s) {', '.join(unknown)}")
    elif not plugin.hooks:
        warnings.append(f"{plugin.label}: implements no fer-zoo hook")


def _register(pm, plugin: Plugin) -> list:
    pm.register(plugin.obj, name=f"{plugin.distribution}:{plugin.name}")
    return list(pm.get_hookcallers(plugin.obj) or [])


@dataclass(frozen=True)
class Kind:
    """One kind of thing plugins register: its hook, the type ``register()`` takes, and its names."""

    name: str  # "architecture": what messages call one
    plural: str  # "architectures": the attribute of Plugin and PluginSet that lists them
    hook: str
    item: type  # what register() takes
    listing: str  # where a user sees the names, ending the unknown-name message
    check: Callable[[Any], Any] | None = None  # the kind's own checks of an item, after checked_item's


# Every kind plugins register: adding a kind is one row here (and its hookspec).
KINDS = (
    Kind("architecture", "architectures", "fer_zoo_register_architectures", Architecture,
         "`fer-zoo list` shows the available ones"),
    Kind("dataset", "datasets", "fer_zoo_register_datasets", DatasetSource,
         "`fer-zoo datasets` lists the sources"),
    Kind("detector", "detectors", "fer_zoo_register_detectors", FaceDetector,
         "`fer-zoo detectors` lists them"),
    Kind("recipe", "recipes", "fer_zoo_register_recipes", Recipe, "`fer-zoo recipes` lists them", registered),
)
_PLURALS = frozenset(kind.plural for kind in KINDS)


def _call_register_hook(pm, plugins, kind: Kind, warnings: list[str], interrupts: _Interrupts):
    """Call each plugin's implementation alone; a plugin that raises, or registers anything invalid (even
    if it catches the error ``register`` raised), contributes nothing."""
    caller = getattr(pm.hook, kind.hook)
    claims = []
    item_type, check = kind.item, kind.check or (lambda item: item)
    for plugin in plugins:
        if plugin.obj is None or plugin.error:
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin.obj:
                continue
            got: list[Any] = []
            refused: list[str] = []

            def register_one(item, _got=got, _refused=refused):
                try:
                    _got.append(check(checked_item(item, item_type)))
                except FerZooError as exc:
                    _refused.append(str(exc))
                    raise

            arguments = {"register": register_one}
            returned, error = contained(lambda: impl.function(*(arguments[name] for name in impl.argnames)),
                                        interrupts)
            if error or refused:
                plugin.error = f"{kind.hook} failed: {refused[0] if refused else error}"
                break
            if returned is not None and not got:
                warnings.append(f"{plugin.label}: {kind.hook} returned {type(returned).__name__} instead of calling "
                                f"register(...) for each item; nothing was registered")
            claims += [(item, plugin) for item in got]
    return claims


def checked_item(item: Any, kind: type):
    """``item`` (what a plugin passed to ``register``) rebuilt as exactly ``kind`` from its fields, so every
    field is checked by ``kind`` itself: a subclass or an object built around ``__post_init__`` is not trusted.
    A description must be one line of text and options a mapping of text to text, whatever the kind."""
    if not isinstance(item, kind):
        raise FerZooError(f"register() expects a fer_zoo.{kind.__name__}, got {type(item).__name__}")
    values = {}
    for f in fields(kind):
        if f.init and f.name != "plugin":
            try:
                values[f.name] = getattr(item, f.name)
            except Exception as exc:
                raise FerZooError(f"register(): the {kind.__name__}'s {f.name} cannot be read: "
                                  f"{describe_exception(exc)}") from None
    named = values.get("name")
    where = f"{kind.__name__} {named!r}" if isinstance(named, str) else kind.__name__
    if "description" in values and (not isinstance(values["description"], str)
                                    or "\n" in values["description"].strip()):
        raise FerZooError(f"{where}: description must be one line of text, got {type(values['description']).__name__}")
    if "options" in values:
        options = values["options"]
        if not isinstance(options, Mapping) or not all(
                isinstance(k, str) and (isinstance(v, str) or (isinstance(v, Option) and isinstance(v.help, str)))
                for k, v in options.items()):
            raise FerZooError(f"{where}: options must map each option's name to one line of help text "
                              f"(or a fer_zoo.plugins.registry.Option)")
        values["options"] = dict(options)
    return kind(**values)


def _resolve(claims: list[tuple[Any, Plugin]], kind: str, attribute: str):
    """Settle names: a built-in keeps its name; a name two third parties claim is nobody's."""
    by_name: dict[str, list[tuple[Any, Plugin]]] = {}
    for item, plugin in claims:
        by_name.setdefault(item.name, []).append((item, plugin))
    winners, unavailable, warnings = [], {}, []
    for name, entries in by_name.items():
        chosen = entries[0]
        dists = sorted({canonical(p.distribution) for _, p in entries})
        if len(entries) > 1:
            shown = " and ".join(f"{p.distribution} {p.version}" for _, p in entries)
            if len(dists) == 1 or chosen[1].builtin:
                warnings.append(f"{kind} {name!r} is registered by {shown}; "
                                f"keeping the one from {chosen[1].distribution} {chosen[1].version}")
            else:
                reason = f"claimed by both {shown}; uninstall or disable one ({DISABLE_ENV})"
                warnings.append(f"{kind} {name!r} is {reason}")
                unavailable[name] = reason
                continue
        item, plugin = chosen
        getattr(plugin, attribute).append(name)
        winners.append(replace(item, plugin=plugin.source))
    return winners, unavailable, warnings
