"""What plugins register, as plain data (architectures, data sources, face detectors), and lookup of
architectures by name with timm-style wildcard filters."""

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
            "plugin": self.plugin.distribution if self.plugin else None,
            "plugin_version": self.plugin.version if self.plugin else None,
            "entry_point": self.plugin.entry_point if self.plugin else None,
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
    """The architectures available in this process, by name."""

    def __init__(self, architectures: Iterable[Architecture] = ()):
        self._by_name = {a.name: a for a in architectures}

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[str]:
        return filter_names(self._by_name, include, exclude)

    def get(self, name: str, unavailable: Mapping[str, str] | None = None) -> Architecture:
        if name in self._by_name:
            return self._by_name[name]
        if unavailable and name in unavailable:
            raise FerZooError(f"architecture {name!r} is unavailable: {unavailable[name]}")
        close = difflib.get_close_matches(name, self._by_name, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `fer-zoo list` shows the available ones"
        raise FerZooError(f"unknown architecture {name!r}{hint}")


# The other kinds' types live here too, so the loader checks what plugins register without importing
# data/ or inference/ (which import the loader).
@dataclass(frozen=True)
class DatasetSource:
    """A kind of data a plugin can load: ``load(options) -> Dataset`` (:class:`fer_zoo.data.Dataset`), options
    as strings."""

    name: str
    load: Callable[[dict[str, str]], Any]  # -> fer_zoo.data.Dataset
    description: str
    options: Mapping[str, str] = field(default_factory=dict)  # option -> one-line help
    # fingerprint(options) -> cache key covering content and options; None: never cached
    fingerprint: Callable[[dict[str, str]], str] | None = None
    plugin: PluginSource | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise FerZooError(f"dataset name {self.name!r} is invalid: use lower-case letters, digits, '_' and '-'")
        if not callable(self.load):
            raise FerZooError(f"dataset {self.name!r}: load must be callable")

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "options": dict(self.options),
            "plugin": self.plugin.distribution if self.plugin else None,
            "plugin_version": self.plugin.version if self.plugin else None,
        }


Boxes = Sequence[Sequence[int]]
AUTO = "auto"  # --detector auto: the installed detector of highest priority


@dataclass(frozen=True)
class FaceDetector:
    """A face detector a plugin can register: ``build(**options) -> detect(image) -> [[x, y, w, h], ...]``,
    options given as text (``options``: each one's name -> one-line help). ``--detector auto`` picks the
    installed detector of highest ``priority`` (the built-in Haar cascade has 0)."""

    name: str
    build: Callable[..., Callable[[Any], Boxes]]
    description: str
    options: Mapping[str, str] = field(default_factory=dict)
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
        return {"name": self.name, "description": self.description, "options": dict(self.options),
                "priority": self.priority,
                "plugin": self.plugin.distribution if self.plugin else None,
                "plugin_version": self.plugin.version if self.plugin else None}


def default(available: Mapping[str, FaceDetector]) -> FaceDetector | None:
    """What ``--detector auto`` means: the detector of highest priority; of equals, fer-zoo's own, then the
    first by name (a plugin that does not ask to be the default is not)."""
    def rank(d: FaceDetector):
        return -d.priority, d.plugin is None or d.plugin.distribution != "fer-zoo", d.name

    return min(available.values(), key=rank, default=None)
