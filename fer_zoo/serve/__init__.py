"""`fer-zoo serve`: a model behind an HTTP API and a web page (FastAPI on uvicorn, the ``serve`` extra).

``limits`` holds what a request may carry and the safety rules of binding; ``batcher`` classifies the faces
of concurrent requests together; ``server`` builds the app and runs it (FastAPI is imported there, inside
its functions, so importing this package stays light); ``app`` holds the FastAPI routes; ``page`` is the
self-contained web page served at ``/``.
"""

from fer_zoo.serve.batcher import BatchStats, MicroBatcher
from fer_zoo.serve.limits import Limits, Refused, check_binding
from fer_zoo.serve.server import ServeOptions, create_app, run

__all__ = ["BatchStats", "Limits", "MicroBatcher", "Refused", "ServeOptions", "check_binding", "create_app", "run"]
