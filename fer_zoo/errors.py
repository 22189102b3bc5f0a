"""The one exception type for mistakes a user can make (bad file, bad flag, broken plugin)."""

import unicodedata


class FerZooError(Exception):
    """A user-facing error: the CLI prints its one-line message and exits with status 2."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


def _visible(char: str) -> str:
    """A control character (an escape sequence's ESC, a bell, a carriage return) as a visible escape, so a
    file's contents echoed in a message cannot move the cursor, recolour or retitle a terminal."""
    if char in "\t\n":
        return " "
    if unicodedata.category(char) in ("Cc", "Cf") or char in "\u2028\u2029":
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def one_line(text: object, limit: int = 400) -> str:
    """Collapse whitespace (a plugin's multi-line traceback text, say) into one bounded line, with
    control characters shown escaped."""
    line = " ".join("".join(_visible(c) for c in str(text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` of anything plugin code raised, even an exception whose ``str()`` raises in turn."""
    try:
        kind, text = type(exc).__name__, str(exc)
    except BaseException:  # a plugin's exception whose message is itself broken
        kind, text = type(exc).__qualname__, "(its message cannot be read)"
    return f"{kind}: {text}" if text else kind
