"""The app around a loaded Predictor, and `fer-zoo serve`'s run: bind (refusing unsafe bindings), serve
with uvicorn until SIGTERM or Ctrl-C, finish the requests in flight, stop the model thread."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from fer_zoo.errors import FerZooError
from fer_zoo.serve.batcher import BatchStats
from fer_zoo.serve.limits import Limits, check_binding


@dataclass
class ServeOptions:
    """How the server runs (each field is a `fer-zoo serve` flag; docs/serve.md)."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # a bearer token every /v1 call must carry
    insecure: bool = False  # serve another host without a token
    workers: int = 2  # threads decoding uploads and finding faces
    max_batch: int = 32  # faces classified in one model call
    batch_wait_ms: float = 5.0  # how long the model thread waits for more faces after the first
    graceful_seconds: float = 30.0  # how long SIGTERM waits for requests in flight
    limits: Limits = field(default_factory=Limits)

    def checked(self) -> ServeOptions:
        from fer_zoo import values

        check_binding(self.host, self.token, self.insecure)
        values.integer(self.port, "--port", 0, 65535)
        values.integer(self.workers, "--workers", 1, 64)
        values.integer(self.max_batch, "--max-batch", 1, 4096)
        values.real(self.batch_wait_ms, "--batch-wait-ms", 0, 10_000)
        self.limits.checked()
        return self


def create_app(predictor, options: ServeOptions | None = None):
    """The FastAPI app serving ``predictor`` (a fer_zoo.Predictor); its model thread starts now and stops
    when the app shuts down."""
    from fer_zoo.serve.app import build_app

    return build_app(predictor, (options or ServeOptions()).checked())


def run(model: str | os.PathLike, options: ServeOptions | None = None, *, detector: str | None = "auto",
        runtime: str = "auto", unsafe: bool = False, class_names: list[str] | None = None,
        on_ready: Callable[[str, object], None] | None = None) -> BatchStats:
    """Serve ``model`` (anything fer_zoo.Predictor takes) until SIGTERM or Ctrl-C; what the model thread
    did. ``on_ready(url, predictor)`` is called once the port is bound and the model loaded."""
    options = (options or ServeOptions()).checked()
    try:
        import uvicorn
    except ImportError:
        raise FerZooError("fer-zoo serve needs FastAPI and uvicorn: pip install 'fer-zoo[serve]'") from None
    sock = bind(options.host, options.port)  # before the model loads: a busy port is said at once
    try:
        from fer_zoo.inference.predictor import Predictor

        predictor = Predictor(model, detector=detector, runtime=runtime, unsafe=unsafe, class_names=class_names,
                              batch_size=options.max_batch, max_pixels=options.limits.max_pixels)
        app = create_app(predictor, options)
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=options.graceful_seconds,
                                access_log=False)
        server = uvicorn.Server(config)
        host, port = sock.getsockname()[:2]
        if on_ready is not None:
            on_ready(f"http://{f'[{host}]' if ':' in host else host}:{port}", predictor)
        with _quiet_signals():
            server.run(sockets=[sock])
    finally:
        sock.close()
    return app.state.batcher.stats


def bind(host: str, port: int):
    """A listening socket on ``host:port``, or a one-line error saying why not."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise FerZooError(f"--host {host} --port {port}: cannot listen there: {exc.strerror or exc}") from None
    return sock


@contextlib.contextmanager
def _quiet_signals():
    """uvicorn stops gracefully on SIGTERM and Ctrl-C, then raises the signal again for the handler it found:
    a no-op one here, so the run returns (and the CLI says what it served) instead of dying by the signal."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in kept.items():
            signal.signal(sig, handler)
