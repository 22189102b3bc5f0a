"""Architectures as plain data, and the one registry every pluggable kind uses: lookup by name with a
did-you-mean, timm-style wildcard listing, ``describe()`` as plain data, and the ``NAME:key=value`` specs
``--data`` and ``--detector`` take, read with typed options."""

from __future__ import annotations

import difflib
import fnmatch
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_zoo import values
from fer_zoo.errors import FerZooError, describe_exception

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
REPORTED_KEYS = ("train", "val", "test", "top2_train", "top2_val", "top2_test")
DEFAULT_NORMALIZATION = (1 / 255, 0.0)
# FER2013's classes in its label order: what a network predicts unless its plugin says otherwise
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@dataclass(frozen=True)
class PluginSource:
    """Where a registered thing came from: the distribution and entry point that provided it."""

    distribution: str
    version: str
    entry_point: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


def plugin_fields(plugin: PluginSource | None) -> dict[str, str | None]:
    """The keys every kind's ``describe()`` shares about where the item came from."""
    return {"plugin": plugin.distribution if plugin else None,
            "plugin_version": plugin.version if plugin else None,
            "entry_point": plugin.entry_point if plugin else None}


@dataclass(frozen=True)
class Architecture:
    """A network a plugin provides: a name, a ``build(input_shape, num_classes)`` callable, metadata.

    ``build`` returns the bare network: normalised float input, ``(None, num_classes)`` softmax
    output. Everything else is plain data, checked here so a plugin's mistake names itself.
    """

    name: str
    build: Callable[[tuple[int, int, int], int], Any]
    input_shape: tuple[int, int, int]
    description: str
    params: int | None = None
    macs: int | None = None
    reference: str | None = None
    reported: Mapping[str, float] | None = None
    recipe: str | None = None
    normalization: tuple[float, float] = DEFAULT_NORMALIZATION
    weights: str | os.PathLike | Callable[[], str | os.PathLike] | None = None
    flexible_input: bool = False  # build() works at other sizes and channel counts than input_shape
    # The classes the shipped weights predict, in output order (FER+ adds contempt; AffectNet orders its own).
    class_names: tuple[str, ...] = FER2013_CLASSES
    # Filled in by the registry from the entry point; whatever a plugin passes here is replaced.
    plugin: PluginSource | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise the stored values in place
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise FerZooError(
                f"architecture name {self.name!r} is invalid: use lower-case letters, digits, '_' and '-'"
            )
        where = f"architecture {self.name!r}"
        if not callable(self.build):
            raise FerZooError(f"{where}: build must be callable, got {type(self.build).__name__}")
        set_(self, "input_shape", _shape(self.input_shape, where))
        if not isinstance(self.description, str) or "\n" in self.description.strip():
            raise FerZooError(f"{where}: description must be one line of text")
        for attr in ("params", "macs"):
            value = getattr(self, attr)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise FerZooError(f"{where}: {attr} must be a non-negative int or None, got {value!r}")
        for attr in ("reference", "recipe"):
            value = getattr(self, attr)
            if value is not None and not isinstance(value, str):
                raise FerZooError(f"{where}: {attr} must be a string or None, got {type(value).__name__}")
        if self.reported is not None:
            set_(self, "reported", _reported(self.reported, where))
        set_(self, "normalization", _normalization(self.normalization, where))
        if self.weights is not None and not (callable(self.weights) or isinstance(self.weights, (str, os.PathLike))):
            raise FerZooError(f"{where}: weights must be None, a file path or a callable returning one")
        names = tuple(self.class_names) if not isinstance(self.class_names, str) else ()
        if len(names) < 2 or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise FerZooError(f"{where}: class_names must be two or more distinct names, got {self.class_names!r}")
        set_(self, "class_names", names)

    def weights_path(self) -> Path | None:
        """The local file of shipped weights, or None; a plugin never downloads them."""
        if self.weights is None:
            return None
        where = f"architecture {self.name!r} ({self.plugin})"
        if callable(self.weights):
            try:
                found = self.weights()
            except (FerZooError, KeyboardInterrupt):
                raise
            except BaseException as exc:  # the plugin's lookup failing is the plugin's, sys.exit() included
                raise FerZooError(f"{where}: finding its weights failed: {describe_exception(exc)}") from None
        else:
            found = self.weights
        if not isinstance(found, (str, os.PathLike)):
            raise FerZooError(f"{where}: its weights lookup returned {type(found).__name__}, not a file path")
        path = Path(found)
        if not path.is_file():
            raise FerZooError(f"architecture {self.name!r} ({self.plugin}): weights file {path} does not exist")
        return path

    def describe(self) -> dict[str, Any]:
        """The plain-data view used by ``fer-zoo list --json`` and ``info --json``."""
        return {
            "name": self.name,
            **plugin_fields(self.plugin),
            "description": self.description,
            "params": self.params,
            "macs": self.macs,
            "input_shape": list(self.input_shape),
            "reported": dict(self.reported) if self.reported else None,
            "reference": self.reference,
            "recipe": self.recipe,
            "normalization": list(self.normalization),
            "has_weights": self.weights is not None,
            "class_names": list(self.class_names),
            "flexible_input": self.flexible_input,
        }


def _shape(value: Any, where: str) -> tuple[int, int, int]:
    try:
        shape = tuple(value)
    except TypeError:
        shape = ()
    if len(shape) != 3 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise FerZooError(f"{where}: input_shape must be (height, width, channels) of positive ints, got {value!r}")
    return shape


def _reported(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise FerZooError(f"{where}: reported must be a mapping such as {{'val': 0.67}}, got {type(value).__name__}")
    out = {}
    for key, number in value.items():
        if key not in REPORTED_KEYS:
            raise FerZooError(f"{where}: reported key {key!r} is not one of {', '.join(REPORTED_KEYS)}")
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= 1:
            raise FerZooError(f"{where}: reported[{key!r}] must be a fraction in [0, 1], got {number!r}")
        out[key] = float(number)
    return out


def _normalization(value: Any, where: str) -> tuple[float, float]:
    try:
        scale, offset = (float(v) for v in value)
    except (TypeError, ValueError):
        raise FerZooError(f"{where}: normalization must be (scale, offset), got {value!r}") from None
    if not (math.isfinite(scale) and math.isfinite(offset)) or scale == 0:
        raise FerZooError(f"{where}: normalization needs a finite non-zero scale and finite offset, got {value!r}")
    return scale, offset


def filter_names(names: Iterable[str], include: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[str]:
    """Sorted names matching any ``include`` pattern (all when none) and no ``exclude`` pattern."""
    include, exclude = list(include), list(exclude)
    picked = {n for n in names if not include or any(fnmatch.fnmatchcase(n, p) for p in include)}
    return sorted(n for n in picked if not any(fnmatch.fnmatchcase(n, p) for p in exclude))


class Registry:
    """The items of one kind (architectures, data sources, detectors...) available in this process, by name.

    Reads like a mapping of name to item; ``get`` is the lookup a user's typo reaches, with a did-you-mean,
    and names the reason a name two plugins claim is ``unavailable``."""

    def __init__(self, items: Iterable[Any] = (), kind: str = "architecture",
                 listing: str = "`fer-zoo list` shows the available ones",
                 unavailable: Mapping[str, str] | None = None):
        self._by_name = {item.name: item for item in items}
        self.kind = kind
        self.listing = listing  # where a user sees the names: ends the unknown-name message
        self.unavailable = dict(unavailable or {})

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self._by_name)

    def __getitem__(self, name: str):
        return self._by_name[name]

    def keys(self):
        return self._by_name.keys()

    def values(self):
        return self._by_name.values()

    def items(self):
        return self._by_name.items()

    def names(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[str]:
        return filter_names(self._by_name, include, exclude)

    def get(self, name: str) -> Any:
        if name in self._by_name:
            return self._by_name[name]
        if name in self.unavailable:
            raise FerZooError(f"{self.kind} {name!r} is unavailable: {self.unavailable[name]}")
        raise FerZooError(f"unknown {self.kind} {name!r}{self.hint(name)}")

    def hint(self, name: str) -> str:
        """What ends a message about the unknown ``name``: the close names, else where to see them all."""
        close = difflib.get_close_matches(name, self._by_name, n=3)
        return f"; did you mean {', '.join(close)}?" if close else f"; {self.listing}"

    def select(self, include: Iterable[str] = (), exclude: Iterable[str] = (),
               keep: tuple[str, Callable[[Any], bool]] | None = None) -> list[Any]:
        """The items whose names the patterns pick (and ``keep``'s test, named by its flag, passes), in name
        order; none picked when something was asked is an error naming what was asked and what is installed."""
        include, exclude = list(include), list(exclude)
        picked = [self._by_name[n] for n in self.names(include, exclude)]
        if keep:
            picked = [item for item in picked if keep[1](item)]
        if not picked and (include or exclude or keep):
            asked = " ".join([*include, *(f"--exclude {x}" for x in exclude), *([keep[0]] if keep else [])])
            raise FerZooError(f"no {self.kind} matches {asked} (installed: {', '.join(self.names()) or 'none'})")
        return picked

    def describe(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Plain data for each item the patterns pick: what ``--json`` listings print."""
        return [item.describe() for item in self.select(include, exclude)]


@dataclass(frozen=True)
class Option:
    """One option a ``NAME:key=value`` spec takes: its one-line help, and the reader its text must pass
    (``read(text, label)``, one of :mod:`fer_zoo.values`'; None: any text the item reads itself). Build one
    with :meth:`integer`, :meth:`real`, :meth:`seed`, :meth:`boolean` or :meth:`text`."""

    help: str
    read: Callable[[Any, str], Any] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.help

    @classmethod
    def text(cls, help: str) -> Option:
        return cls(help)

    @classmethod
    def integer(cls, help: str, low: int | None = None, high: int | None = None) -> Option:
        return cls(help, lambda value, label: values.integer(value, label, low, high))

    @classmethod
    def real(cls, help: str, low: float | None = None, high: float | None = None, *,
             low_open: bool = False, high_open: bool = False) -> Option:
        return cls(help, lambda value, label: values.real(value, label, low, high,
                                                          low_open=low_open, high_open=high_open))

    @classmethod
    def seed(cls, help: str) -> Option:
        return cls(help, values.seed)

    @classmethod
    def boolean(cls, help: str) -> Option:
        return cls(help, values.boolean)


def option_help(options: Mapping[str, str | Option]) -> dict[str, str]:
    """Each option's name -> its help text, what ``describe()`` shows whether an option is typed or not."""
    return {key: str(option) for key, option in options.items()}


def read_option(options: dict[str, Any], declared: Mapping[str, str | Option], key: str, default: Any,
                label: str) -> Any:
    """Pop ``key`` from ``options`` (``default`` when absent) through its declared reader: the one place an
    item's own code and :func:`parse_options` read a typed option, so both give the same message."""
    option = declared[key]
    value = options.pop(key, default)
    return option.read(value, label) if isinstance(option, Option) and option.read else value


def parse_options(spec: str, flag: str, owner: str, text: str, declared: Mapping[str, str | Option] | None,
                  label: str) -> dict[str, str]:
    """The ``key=value,...`` after ``NAME:`` in ``flag``'s ``spec``, as text: every key declared (any key where
    ``declared`` is None: the item checks its own), given once, with a value; a typed option's text passes its
    reader (``label`` starts its message: "dataset option")."""
    options: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not key:
            raise FerZooError(f"{flag} {spec!r}: expected key=value, got {item!r}")
        if declared is not None and key not in declared:
            known = ", ".join(declared) or "none"
            raise FerZooError(f"{flag} {spec!r}: {owner} has no option {key!r} (its options: {known})")
        if key in options:
            raise FerZooError(f"{flag} {spec!r}: option {key!r} is given twice ({options[key]!r} and {value!r})")
        if not value:
            raise FerZooError(f"{flag} {spec!r}: option {key!r} has no value (write {key}=VALUE)")
        option = declared.get(key) if declared is not None else None
        if isinstance(option, Option) and option.read:
            try:
                option.read(value, f"{label} {key}")
            except FerZooError as exc:
                raise FerZooError(f"{flag} {spec!r}: {exc}") from None
        options[key] = value
    return options


# The other kinds' types live here too, so the loader checks what plugins register without importing
# data/ or inference/ (which import the loader).
@dataclass(frozen=True)
class DatasetSource:
    """A kind of data a plugin can load: ``load(options) -> Dataset``, options as strings (``--data
    NAME:key=value``, each key declared in ``options``: its one-line help, or an :class:`Option` whose reader
    the text must pass before ``load`` is called)."""

    name: str
    load: Callable[[dict[str, str]], Any]  # -> fer_zoo.data.Dataset
    description: str
    options: Mapping[str, str | Option] = field(default_factory=dict)
    # fingerprint(options) -> cache key covering content and options; None: never cached
    fingerprint: Callable[[dict[str, str]], str] | None = None
    plugin: PluginSource | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise FerZooError(f"dataset name {self.name!r} is invalid: use lower-case letters, digits, '_' and '-'")
        if not callable(self.load):
            raise FerZooError(f"dataset {self.name!r}: load must be callable")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **plugin_fields(self.plugin), "description": self.description,
                "options": option_help(self.options)}


Boxes = Sequence[Sequence[int]]
AUTO = "auto"  # --detector auto: the installed detector of highest priority


@dataclass(frozen=True)
class FaceDetector:
    """A face detector a plugin can register: ``build(**options) -> detect(image) -> [[x, y, w, h], ...]``,
    options given as text (``options``: each one's name -> one-line help, or an :class:`Option` whose reader
    its text must pass before ``build`` is called). ``--detector auto`` picks the
    installed detector of highest ``priority`` (the built-in Haar cascade has 0)."""

    name: str
    build: Callable[..., Callable[[Any], Boxes]]
    description: str
    options: Mapping[str, str | Option] = field(default_factory=dict)
    priority: int = 0
    plugin: PluginSource | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise FerZooError(f"detector name {self.name!r} is invalid: use lower-case letters, digits, '_' and '-'")
        if self.name == AUTO:
            raise FerZooError(f"detector name {AUTO!r} is reserved: it names the default detector")
        if not isinstance(self.priority, int) or isinstance(self.priority, bool):
            raise FerZooError(f"detector {self.name!r}: priority must be an integer")
        if not callable(self.build):
            raise FerZooError(f"detector {self.name!r}: build must be callable")
        if not isinstance(self.description, str) or "\n" in self.description.strip():
            raise FerZooError(f"detector {self.name!r}: description must be one line of text")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **plugin_fields(self.plugin), "description": self.description,
                "options": option_help(self.options), "priority": self.priority}


def default(available: Mapping[str, FaceDetector]) -> FaceDetector | None:
    """What ``--detector auto`` means: the detector of highest priority; of equals, fer-zoo's own, then the
    first by name (a plugin that does not ask to be the default is not)."""
    def rank(d: FaceDetector):
        return -d.priority, d.plugin is None or d.plugin.distribution != "fer-zoo", d.name

    return min(available.values(), key=rank, default=None)
