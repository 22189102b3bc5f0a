"""Muting the C++ chatter of TensorFlow, TFLite and converters, which writes to file descriptors directly
(no Python log setting reaches it) and would otherwise land in a user's terminal or `--json` output."""

from __future__ import annotations

import io
import os
import sys
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout


@contextmanager
def muted(stdout: bool = False, stderr: bool = True):
    """Point file descriptors 1 and/or 2 (and Python's sys.stdout / sys.stderr, which a test runner may
    have replaced) at nothing for the block; Python exceptions still propagate."""
    fds = [fd for fd, wanted in ((1, stdout), (2, stderr)) if wanted]
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        with ExitStack() as python_streams:
            if stdout:
                python_streams.enter_context(redirect_stdout(io.StringIO()))
            if stderr:
                python_streams.enter_context(redirect_stderr(io.StringIO()))
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip(fds, saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def import_keras() -> None:
    """Import Keras (and its backend) with file descriptor 2 muted: TensorFlow's C++ start-up lines (CUDA
    probing, oneDNN notes) reach it before any log setting applies. Python errors still propagate."""
    if "keras" in sys.modules:
        return
    with muted():
        import keras  # noqa: F401
