"""Plugins that end the interpreter or hang, found before this process imports them.

A ``try`` cannot catch a segmentation fault or ``os._exit()``, and a plugin that sleeps at import delays
every command. So each third-party entry point this process has not imported yet is first imported, and
its hooks called, in a child process, one after the other, the child writing its progress to a file: a
child that dies names the plugin it was in (and the signal or exit status), and one that stays in a plugin
longer than ``PROBE_SECONDS`` is killed and names that one; the probe then goes on with the rest. Verdicts
are kept in the cache, keyed by distribution, version, entry point and the module file's modification
time, so an unchanged plugin set costs one small file read and no process.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata, util
from pathlib import Path
from typing import Any

# Longer than this in one plugin's import and hooks: the plugin is skipped. Far above a plugin that imports
# TensorFlow at module level (~5 s on a 2-core machine): a loaded machine must not get a good plugin skipped,
# and the verdict is cached until the plugin changes or `fer-zoo cache clear`.
PROBE_SECONDS = 20.0
FORMAT_VERSION = 1

# The child: import each entry point in turn, call its hooks with a register() that keeps nothing, and
# say where it is before and after each step. SIGINT is the parent's to handle.
CHILD = r"""
import json, os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
path, progress, entries = json.loads(sys.argv[1])
sys.path[:] = path
out = os.open(progress, os.O_WRONLY | os.O_APPEND)
def say(text):
    os.write(out, (text + "\n").encode())
from importlib.metadata import EntryPoint
import pluggy
from fer_zoo.plugins import hookspecs
say("ready")
for i, (name, value) in enumerate(entries):
    say(f"import {i}")
    try:
        obj = EntryPoint(name, value, "fer_zoo").load()
        say(f"hooks {i}")
        pm = pluggy.PluginManager("fer_zoo")
        pm.add_hookspecs(hookspecs)
        pm.register(obj, name=str(i))
        for caller in pm.get_hookcallers(obj) or []:
            for impl in caller.get_hookimpls():
                try:
                    impl.function(*(lambda item: None for _ in impl.argnames))
                except BaseException:
                    pass
    except BaseException:
        pass
    say(f"done {i}")
say("end")
os._exit(0)
"""


def verdicts(entries: list[tuple[Any, metadata.EntryPoint]]) -> dict[int, str]:
    """``id(plugin) -> error`` for each ``(plugin, entry_point)`` that crashes, exits or hangs the
    interpreter; the others are absent. Probes only what the cache does not know yet."""
    todo = [(p, ep) for p, ep in entries if _module(ep) not in sys.modules]  # imported already: it did not crash
    if not todo:
        return {}
    keys = {id(p): _key(p, ep) for p, ep in todo}
    store = _read()
    missing = [(p, ep) for p, ep in todo if keys[id(p)] not in store]
    if missing:
        found = _probe([ep for _, ep in missing])
        if found is None:  # the probe itself could not run: nothing known, nothing kept
            return {id(p): store[keys[id(p)]] for p, _ in todo if store.get(keys[id(p)])}
        store = {k: v for k, v in store.items() if k in keys.values()}
        store.update({keys[id(p)]: why for (p, _), why in zip(missing, found)})
        _write(store)
    return {id(p): store[keys[id(p)]] for p, _ in todo if store.get(keys[id(p)])}


def _module(ep: metadata.EntryPoint) -> str:
    return ep.value.split(":")[0].strip()


def _module_file(ep: metadata.EntryPoint) -> str | None:
    """The entry point's module file, found without importing anything (a package's parts by path)."""
    parts = _module(ep).split(".")
    try:
        spec = util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if len(parts) == 1 or not spec.submodule_search_locations:
        return spec.origin
    for base in spec.submodule_search_locations:
        for candidate in (Path(base, *parts[1:]).with_suffix(".py"), Path(base, *parts[1:], "__init__.py")):
            if candidate.is_file():
                return str(candidate)
    return spec.origin


def _key(plugin, ep: metadata.EntryPoint) -> str:
    from fer_zoo import __version__

    origin = _module_file(ep)
    try:
        mtime = os.stat(origin).st_mtime_ns if origin else None
    except OSError:
        mtime = None
    return json.dumps([plugin.distribution, plugin.version, ep.name, ep.value, origin, mtime, __version__,
                       sys.version])


def _store() -> Path:
    from fer_zoo.environment import cache_dir

    interpreter = hashlib.sha256(sys.executable.encode()).hexdigest()[:16]
    return cache_dir() / "plugins" / f"probe-{interpreter}.json"


def _read() -> dict[str, str | None]:
    try:
        data = json.loads(_store().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION or not isinstance(data.get("verdicts"), dict):
        return {}
    return data["verdicts"]


def _write(store: dict[str, str | None]) -> None:
    from fer_zoo import atomic

    try:
        atomic.write_json(_store(), {"format": FORMAT_VERSION, "verdicts": store})
    except Exception:  # an unwritable cache costs a probe next time, nothing more
        pass


def _probe(entry_points: list[metadata.EntryPoint]) -> list[str | None] | None:
    """One verdict per entry point (None: it imports and registers), or None if the probe cannot tell."""
    found: list[str | None] = []
    while len(found) < len(entry_points):
        outcome = _run_child(entry_points[len(found):])
        if outcome is None:
            return None
        finished, why = outcome
        if finished == 0 and why is None:  # a child that dies outside every plugin, again: give up
            return None
        found += [None] * finished + ([why] if why is not None else [])
    return found


def _run_child(entry_points: list[metadata.EntryPoint]) -> tuple[int, str | None] | None:
    """``(how many finished, why the next one did not)`` for one child run over ``entry_points``; None if
    the child could not start."""
    fd, progress = tempfile.mkstemp(prefix="fer-zoo-probe-", suffix=".txt")
    os.close(fd)
    argument = json.dumps([sys.path, progress, [[ep.name, ep.value] for ep in entry_points]])
    try:
        child = subprocess.Popen([sys.executable, "-c", CHILD, argument], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        os.unlink(progress)
        return None
    try:
        last, since = None, time.monotonic()
        while True:
            code = child.poll()
            try:
                lines = Path(progress).read_text().splitlines()  # ready, import 0, hooks 0, done 0, ..., end
            except OSError:  # removed under us (a temporary-file cleaner): nothing can be told
                return None
            done = sum(line.startswith("done ") for line in lines)
            phase = lines[-1].split()[0] if lines else None
            if code is not None:
                if phase == "end":
                    return len(entry_points), None
                if phase not in ("import", "hooks"):  # died before the first plugin or between two
                    return (done, None) if phase == "done" else None
                where = "at import" if phase == "import" else "in its hook"
                if code < 0:
                    try:
                        name = f", {signal.Signals(-code).name}"
                    except ValueError:
                        name = ""
                    return done, f"crashed the interpreter {where} (signal {-code}{name}); skipped"
                return done, f"ended the interpreter {where} (exit status {code}, as os._exit() does); skipped"
            if lines[-1:] != [last]:
                last, since = (lines[-1] if lines else None), time.monotonic()
            elif phase in ("import", "hooks") and time.monotonic() - since > PROBE_SECONDS:
                where = "to import" if phase == "import" else "in its hook"
                return done, (f"took more than {PROBE_SECONDS:g} s {where}, which every fer-zoo command would "
                              f"pay; skipped (probed again when it changes, or after `fer-zoo cache clear`)")
            try:
                child.wait(timeout=0.02)
            except subprocess.TimeoutExpired:
                pass
    finally:
        if child.poll() is None:  # a slow plugin, the user's Ctrl-C or a bug of ours: the child goes too
            child.kill()
            child.wait()
        Path(progress).unlink(missing_ok=True)
