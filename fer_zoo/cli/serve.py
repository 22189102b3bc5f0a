"""`serve`: a model behind an HTTP API and a web page (fer_zoo.serve; the ``serve`` extra)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fer_zoo.cli.base import DetectorOption, RuntimeOption, command, loaded_plugins


@command("serve")
def serve_command(
    model: Annotated[str, typer.Argument(help="A run directory, a .keras/.h5/.onnx/.tflite file, or an architecture "
                                               "that ships weights.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on; beyond loopback it needs --token or "
                                                     "--insecure.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free one).")] = 8000,
    detector: DetectorOption = "auto",
    no_detect: Annotated[bool, typer.Option("--no-detect", help="Each image is already a cropped face "
                                                                "(FER2013 style).")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Threads decoding uploads and finding "
                                                                          "faces.")] = 2,
    token: Annotated[str | None, typer.Option("--token", envvar="FER_ZOO_SERVE_TOKEN",
                                              help="Bearer token every /v1 call must carry (or "
                                                   "$FER_ZOO_SERVE_TOKEN).")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Serve another host without a token.")] = False,
    unsafe: Annotated[bool, typer.Option("--unsafe", help="Allow models that run code (Lambda layers).")] = False,
    runtime: RuntimeOption = "auto",
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, max=4096, help="Faces of concurrent requests "
                                                                                "classified in one call.")] = 32,
    batch_wait_ms: Annotated[float, typer.Option("--batch-wait-ms", min=0.0, max=10_000.0,
                                                 help="How long a batch waits for more faces.")] = 5.0,
    max_bytes: Annotated[int, typer.Option("--max-bytes", min=1, help="Largest request body (413).")] = 20_000_000,
    max_pixels: Annotated[int, typer.Option("--max-pixels", min=1, help="Largest image, from its header "
                                                                        "(413).")] = 40_000_000,
    max_images: Annotated[int, typer.Option("--max-images", min=1, help="Images per request (413).")] = 16,
    max_faces: Annotated[int, typer.Option("--max-faces", min=1, help="Faces per image (422).")] = 32,
) -> None:
    """Serve a model over HTTP: /v1/predict, /v1/explain, /v1/model, a web page at /, OpenAPI at /docs.

    Runs until Ctrl-C or SIGTERM, then finishes the requests in flight.
    """
    from fer_zoo.serve import Limits, ServeOptions, run

    loaded_plugins()
    options = ServeOptions(host=host, port=port, token=token, insecure=insecure, workers=workers,
                           max_batch=max_batch, batch_wait_ms=batch_wait_ms,
                           limits=Limits(max_bytes, max_pixels, max_images, max_faces))

    def ready(url: str, predictor) -> None:
        sys.stderr.write(f"fer-zoo: serving {model} ({predictor.runtime}, detector {predictor.detector}) on {url}"
                         f" · web page {url}/ · API {url}/docs · Ctrl-C to stop\n")

    stats = run(model, options, detector=None if no_detect else detector, runtime=runtime, unsafe=unsafe,
                on_ready=ready)
    sys.stderr.write(f"fer-zoo: stopped: {stats.jobs} requests with faces, {stats.faces} faces in "
                     f"{stats.batches} model calls\n")
