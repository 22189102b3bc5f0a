"""The one exception type for mistakes a user can make (bad file, bad flag, broken plugin)."""

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class FerZooError(Exception):
    """A user-facing error: the CLI prints its one-line message and exits with status 2."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


def one_line(text: object, limit: int = 400) -> str:
    """Collapse whitespace (a plugin's multi-line traceback text, say) into one bounded line."""
    line = " ".join(_ANSI.sub("", str(text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
