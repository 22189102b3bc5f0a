"""What a command reads where the user named a file (a photo, a video, a CSV, a recipe, a model): a regular
file, a symlink to one included.

Anything else is one line naming the path before it is opened: a named pipe would block the reader until
something writes to it (forever, for a photo or a folder's image), ``/dev/zero`` never ends (a CSV's first
line would fill the memory), and a socket, a device or a folder fails deep inside a library with a message
about something else. fer_zoo/outputs.py is the policy for what a command writes. Light: no TensorFlow or
Keras.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fer_zoo.errors import FerZooError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def regular_file(path: str | os.PathLike, name: str | None = None) -> Path:
    """``path`` if it is a regular file (symlinks followed); else a FerZooError naming ``name`` (the flag and
    the path, say; default the path): ``NAME: no such file``, or ``NAME is not a regular file (a named pipe)``."""
    path = Path(path)
    name = name or str(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise FerZooError(f"{name} is not a regular file (a dangling symlink to {os.readlink(path)})") from None
        raise FerZooError(f"{name}: no such file") from None
    except (OSError, ValueError) as exc:  # a symlink loop, a parent that is a file, a NUL byte
        raise FerZooError(f"{name}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(mode):
        kind = next((what for test, what in _KINDS if test(mode)), "not a file")
        raise FerZooError(f"{name} is not a regular file ({kind})")
    return path
