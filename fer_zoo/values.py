"""Numbers read from text a user wrote (``--data NAME:k=v``, ``--detector NAME:k=v``, a recipe file, a flag),
each checked where it is read: one reader per kind, so every message names the value and its allowed range
the same way, ``NAME must be an integer from 1 to 1000000, got '10**14'``.

``name`` is the whole label the message starts with ("dataset option size", "--recipe r.toml: momentum").
"""

from __future__ import annotations

import math

from fer_zoo.errors import FerZooError

SEED_MAX = 2**32 - 1  # numpy's and Keras' seeds are 32-bit: 2**32 would wrap or overflow


def _number(bound) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _range(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{_number(low)}, {_number(high)}{')' if high_open else ']'}"
    if low is not None:
        return f" {'above' if low_open else 'at least'} {_number(low)}"
    if high is not None:
        return f" {'below' if high_open else 'at most'} {_number(high)}"
    return ""


def integer(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` (text or a number) as an int in [low, high]; a float with a fraction, a bool or words refused."""
    converted = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        converted = value
    elif isinstance(value, float):
        converted = int(value) if value.is_integer() else None
    elif isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 30:  # int() takes "٣" and a 10**6-digit text
            converted = int(text)
    if converted is None or (low is not None and converted < low) or (high is not None and converted > high):
        raise FerZooError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    return converted


def real(value, name: str, low: float | None = None, high: float | None = None, *,
         low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the range (open at an end where asked); NaN and infinities refused."""
    converted = None
    if not isinstance(value, bool):
        try:
            converted = float(value)
        except (TypeError, ValueError, OverflowError):
            converted = None
    if (converted is None or not math.isfinite(converted)
            or (low is not None and (converted <= low if low_open else converted < low))
            or (high is not None and (converted >= high if high_open else converted > high))):
        raise FerZooError(f"{name} must be a finite number{_range(low, high, low_open, high_open)}, got {value!r}")
    return converted


def seed(value, name: str) -> int:
    """A random seed: an integer in [0, 2**32 - 1], what numpy and Keras take."""
    return integer(value, name, 0, SEED_MAX)


def boolean(value, name: str) -> bool:
    """true/false, yes/no, on/off, 1/0 (or a bool)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise FerZooError(f"{name} must be true or false, got {value!r}")
