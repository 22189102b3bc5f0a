"""Plugin loading: entry points of the ``fer_zoo`` group, each loaded and called on its own.

A plugin that fails to import, whose hook raises, or that registers invalid metadata is recorded
with its error and skipped; everything else keeps working. Set ``FER_ZOO_STRICT_PLUGINS=1`` to turn
every plugin warning into an error, and ``FER_ZOO_DISABLE_PLUGINS=dist-a,dist-b`` to skip
distributions by name.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any

import pluggy

from fer_zoo import hookspecs
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.registry import Architecture, PluginSource, Registry

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
    architectures: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    error: str | None = None
    disabled: bool = False
    incompatible: bool = False
    obj: Any = field(default=None, repr=False)

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
            "architectures": self.architectures,
            "datasets": self.datasets,
            "detectors": self.detectors,
            "status": "disabled" if self.disabled else (
                "incompatible" if self.incompatible else ("error" if self.error else "ok")),
            "error": self.error,
        }


@dataclass
class PluginSet:
    """Everything the plugins provided, and what went wrong, in one snapshot."""

    plugins: list[Plugin]
    architectures: Registry
    unavailable: dict[str, str]
    warnings: list[str]
    datasets: dict = field(default_factory=dict)
    unavailable_datasets: dict[str, str] = field(default_factory=dict)
    detectors: dict = field(default_factory=dict)

    def raise_if_strict(self) -> None:
        """In strict mode (for plugin authors' CI) the first plugin warning is an error."""
        if strict_mode() and self.warnings:
            more = f" (and {len(self.warnings) - 1} more)" if len(self.warnings) > 1 else ""
            raise FerZooError(f"{self.warnings[0]}{more} [{STRICT_ENV}=1]")

    def get_architecture(self, name: str) -> Architecture:
        return self.architectures.get(name, self.unavailable)


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


def _entry_point_plugins() -> list[tuple[Plugin, metadata.EntryPoint]]:
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        name = dist.metadata["Name"] if dist is not None else "unknown"
        version = dist.version if dist is not None else "?"
        found.append((Plugin(name=ep.name, distribution=name, version=version, module=ep.value), ep))
    # Built-ins first, so they claim their names before anyone else; then a stable order.
    found.sort(key=lambda p: (not p[0].builtin, canonical(p[0].distribution), p[0].name))
    return found


def load() -> PluginSet:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    disabled = disabled_distributions()
    plugins: list[Plugin] = []
    warnings: list[str] = []

    candidates = [(plugin, ep.load) for plugin, ep in _entry_point_plugins()]
    candidates += [(Plugin(name=n, distribution=n, version="local", module=repr(o)), lambda o=o: o)
                   for o, n in _local_plugins]
    for plugin, load_object in candidates:
        plugins.append(plugin)
        if canonical(plugin.distribution) in disabled:
            plugin.disabled = True
            continue
        started = time.perf_counter()
        try:
            plugin.obj = load_object()
        except SystemExit as exc:  # a plugin's sys.exit() must not end every command with its status
            plugin.error = f"import failed: the plugin called sys.exit({exc.code})"
        except Exception as exc:  # a broken plugin must not take the CLI down
            plugin.error = f"import failed: {type(exc).__name__}: {exc}"
        else:
            seconds = time.perf_counter() - started
            if seconds > SLOW_IMPORT_SECONDS:
                warnings.append(f"{plugin.label}: took {seconds:.1f} s to import, which every fer-zoo command pays; "
                                f"import heavy libraries (tensorflow, keras, torch) inside build()")
            incompatible = api_incompatibility(getattr(plugin.obj, "FER_ZOO_PLUGIN_API", None))
            if incompatible:
                plugin.error = incompatible
                plugin.incompatible = True
                continue
            try:
                pm.register(plugin.obj, name=f"{plugin.distribution}:{plugin.name}")
            except Exception as exc:
                plugin.error = f"registration failed: {type(exc).__name__}: {exc}"
            else:
                callers = pm.get_hookcallers(plugin.obj) or []
                plugin.hooks = sorted(c.name for c in callers)
                unknown = sorted(c.name for c in callers if not c.has_spec())
                if unknown:
                    warnings.append(f"{plugin.label}: implements unknown hook(s) {', '.join(unknown)}")
                elif not plugin.hooks:
                    warnings.append(f"{plugin.label}: implements no fer-zoo hook")

    resolved = {}
    for kind in kinds():
        claims = _call_register_hook(pm, plugins, kind.hook, kind.item, warnings)
        winners, unavailable, kind_warnings = _resolve(claims, kind.name, kind.plural)
        resolved[kind.plural] = (winners, unavailable)
        warnings += kind_warnings
    # Errors first: they are what a user needs to read.
    warnings = [f"{p.label}: {p.error}" for p in plugins if p.error] + warnings
    (archs, unavailable), (datasets, unavailable_datasets), (detectors, _) = (
        resolved["architectures"], resolved["datasets"], resolved["detectors"])
    return PluginSet(plugins, Registry(archs), unavailable, [one_line(w) for w in warnings],
                     {d.name: d for d in datasets}, unavailable_datasets, {d.name: d for d in detectors})


@dataclass(frozen=True)
class Kind:
    """One kind of thing plugins register: its hook, the type ``register()`` takes, and its names."""

    name: str  # "architecture"
    plural: str  # "architectures": the attribute of Plugin and PluginSet that lists them
    hook: str
    item: type


def kinds() -> tuple[Kind, ...]:
    """The table that drives plugin loading for every kind (the types are imported only when loading)."""
    from fer_zoo.data.dataset import DatasetSource
    from fer_zoo.detectors import FaceDetector

    return (Kind("architecture", "architectures", "fer_zoo_register_architectures", Architecture),
            Kind("dataset", "datasets", "fer_zoo_register_datasets", DatasetSource),
            Kind("detector", "detectors", "fer_zoo_register_detectors", FaceDetector))


def _call_register_hook(pm, plugins, hook_name, kind, warnings: list[str]) -> list[tuple[Any, Plugin]]:
    """Call each plugin's implementation alone; a plugin that raises contributes nothing."""
    caller = getattr(pm.hook, hook_name)
    claims = []
    for plugin in plugins:
        if plugin.obj is None or plugin.error:
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin.obj:
                continue
            got: list[Any] = []

            def register_one(item, _got=got):
                if not isinstance(item, kind):
                    raise FerZooError(f"register() expects a fer_zoo.{kind.__name__}, got {type(item).__name__}")
                _got.append(item)

            arguments = {"register": register_one}
            try:
                returned = impl.function(*(arguments[name] for name in impl.argnames))
            except SystemExit as exc:
                plugin.error = f"{hook_name} called sys.exit({exc.code})"
                break
            except Exception as exc:
                plugin.error = f"{hook_name} raised {type(exc).__name__}: {exc}"
                break
            if returned is not None and not got:
                warnings.append(f"{plugin.label}: {hook_name} returned {type(returned).__name__} instead of calling "
                                f"register(...) for each item; nothing was registered")
            claims += [(item, plugin) for item in got]
    return claims


def _resolve(claims: list[tuple[Any, Plugin]], kind: str, attribute: str):
    """Settle names: a built-in keeps its name; a name two third parties claim is nobody's."""
    by_name: dict[str, list[tuple[Architecture, Plugin]]] = {}
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
