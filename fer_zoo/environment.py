"""What a run or a bench records about where it ran (device, backend, versions), the process-wide
settings that make training fast there (the persistent compilation cache), and how many cores one
model call may take when several run at once."""

from __future__ import annotations

import contextlib
import os
import platform
import threading
from pathlib import Path

COMPILE_CACHE_ENV = "FER_ZOO_COMPILE_CACHE"  # "0" turns the persistent compilation cache off
CACHE_ENV = "FER_ZOO_CACHE_DIR"


def cache_dir() -> Path:
    """Where fer-zoo keeps what it can rebuild: parsed datasets, converted models, compiled programs,
    plugin probe verdicts. ``$FER_ZOO_CACHE_DIR``, else the user cache dir (``~/.cache/fer-zoo``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fer-zoo"


_calls = threading.local()


def call_threads() -> int:
    """The CPU threads one model call made on this thread may use: every core, unless the code around it
    runs several such calls at once and said so with :func:`sharing_cores` (fer-zoo serve's and fer-zoo
    predict's decode/detect workers do). Code that opens its own thread pool for a model (an ONNX Runtime
    session, a TFLite interpreter) sizes the pool by it."""
    return getattr(_calls, "threads", None) or os.cpu_count() or 1


@contextlib.contextmanager
def sharing_cores(callers: int):
    """Within: :func:`call_threads` on this thread is the cores divided among ``callers`` threads that make
    model calls at the same time (at least one each), so that they do not ask for more cores than there are."""
    kept = getattr(_calls, "threads", None)
    _calls.threads = max(1, (os.cpu_count() or 1) // max(1, callers))
    try:
        yield
    finally:
        _calls.threads = kept


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def accelerator_name() -> str | None:
    """The first GPU (or other accelerator) the active Keras backend sees, or None."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            from fer_zoo.tf_backend import gpu_name

            return gpu_name()
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return None if device.platform == "cpu" else device.device_kind
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # a broken driver is "no accelerator", not a crash
        return None
    return None


def device_name() -> str:
    """The accelerator's name if one is visible, else the CPU model."""
    return accelerator_name() or cpu_name()


def has_accelerator() -> bool:
    return accelerator_name() is not None


def versions() -> dict[str, str]:
    import keras
    import numpy as np

    from fer_zoo import __version__

    found = {"fer-zoo": __version__, "keras": keras.__version__, "numpy": np.__version__,
             "python": platform.python_version()}
    backend = keras.backend.backend()
    try:
        module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
        found[module] = __import__(module).__version__
    except (KeyError, ImportError, AttributeError):
        pass
    return found


def describe() -> dict:
    """Backend, device and versions: the header of a run's config and of a bench."""
    import keras

    return {"backend": keras.backend.backend(), "device": device_name(), "versions": versions()}


def enable_compile_cache() -> Path | None:
    """Keep compiled programs across processes, so the next run of the same network on the same shapes
    starts in seconds: JAX's persistent compilation cache under the fer-zoo cache directory.

    TensorFlow runs Keras models as graphs without XLA here (XLA was 4x slower on CPU), and has no
    persistent cache for those; PyTorch compiles nothing. Returns the cache folder, or None.
    """
    import keras

    if keras.backend.backend() != "jax" or os.environ.get(COMPILE_CACHE_ENV, "1") == "0":
        return None
    import jax

    folder = cache_dir() / "jax"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable cache only costs time
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # every program counts: the many small ones (weight initialisers, one per shape) add up to seconds
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
