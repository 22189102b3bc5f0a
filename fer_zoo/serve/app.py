"""The FastAPI app: the routes, how uploads are read and refused, and the JSON they answer with.

Imported only by fer_zoo.serve.server's functions (it holds FastAPI objects, as models/pipeline.py holds
Keras ones). Every refusal is a JSON ``{"error": ..., "limit": ..., "value": ...}`` with a 4xx status; an
upload can make the server say no, never fail: decoding and face finding run on worker threads behind
fer_zoo.inference.predict's checks, classification on the micro-batcher's model thread.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Literal

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fer_zoo.environment import sharing_cores
from fer_zoo.errors import FerZooError, one_line
from fer_zoo.serve.batcher import MicroBatcher
from fer_zoo.serve.limits import Refused, authorised, over

IMAGE_BODY = {"content": {
    "image/*": {"schema": {"type": "string", "format": "binary"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "image": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
}, "required": True, "description": "One image as the raw body, or several as multipart/form-data files "
                                     "(any field name)."}
ERROR = {"content": {"application/json": {"example": {"error": "the request body is over the server's max_bytes "
                                                               "of 20,000,000", "limit": "max_bytes",
                                                      "value": 20000000}}}}
REFUSALS = {code: {"description": what, **ERROR} for code, what in (
    (400, "a malformed request"), (401, "a missing or wrong bearer token"), (413, "over a limit (bytes, pixels, "
    "images)"), (415, "not an image content type"), (422, "not a readable image, too many faces"))}
FACE_EXAMPLE = {"images": [{"name": "photo.jpg", "width": 512, "height": 512, "faces": [
    {"box": [177, 66, 95, 95], "label": "happy", "probabilities": {"angry": 0.01, "happy": 0.93}}]}]}


def build_app(predictor, options) -> FastAPI:
    from fer_zoo.inference.predict import ImageTooLarge, classify_frames, crop_square, decode_image
    from fer_zoo.serve.page import PAGE

    limits = options.limits
    classifier, finder = predictor.classifier, predictor.finder
    batcher = MicroBatcher(lambda frames: classify_frames(classifier, frames, options.max_batch),
                           options.max_batch, options.batch_wait_ms / 1000)
    workers = anyio.CapacityLimiter(options.workers)
    explaining = threading.Lock()  # gradients and matplotlib: one explanation at a time
    state = {"serving": True, "requests": 0, "refused": 0}

    async def lifespan(app):
        yield
        state["serving"] = False
        batcher.close(timeout=options.graceful_seconds)

    app = FastAPI(title="fer-zoo serve", version=_version(), lifespan=lifespan,
                  description="Facial-expression recognition over HTTP: faces found, boxed and classified. "
                              "docs/serve.md has curl and Python examples.")
    app.state.batcher = batcher

    @app.exception_handler(Refused)
    async def refused(request, exc: Refused):
        state["refused"] += 1
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.as_dict(), exc.status, headers=headers)

    @app.exception_handler(FerZooError)
    async def user_error(request, exc: FerZooError):
        state["refused"] += 1
        return JSONResponse({"error": str(exc)}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        state["refused"] += 1
        wrong = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        return JSONResponse({"error": wrong}, 422)

    def token(request: Request) -> None:
        if not authorised(request.headers.get("authorization"), options.token):
            raise Refused(401, "a bearer token is needed: send 'Authorization: Bearer TOKEN' (fer-zoo serve --token)")

    async def uploads(request: Request, most: int) -> list[tuple[str, bytes]]:
        """(name, bytes) of each image the request carries, the body read no further than max_bytes."""
        from starlette.formparsers import MultiPartException
        from starlette.requests import ClientDisconnect
        from starlette.datastructures import UploadFile

        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limits.max_bytes:
            raise over("max_bytes", limits.max_bytes, f"the request body ({int(length):,} bytes)")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limits.max_bytes:
                    raise over("max_bytes", limits.max_bytes, "the request body")
        except ClientDisconnect:
            raise Refused(400, "the client went away before the body ended") from None
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if not body:
            raise Refused(422, "the request body is empty (zero bytes): send an image")
        if kind == "multipart/form-data":
            data = bytes(body)

            async def replay():
                return {"type": "http.request", "body": data, "more_body": False}

            try:
                form = await Request(request.scope, replay).form(max_files=most + 1, max_fields=64)
            except (MultiPartException, StarletteHTTPException) as exc:
                message = getattr(exc, "message", None) or getattr(exc, "detail", "")
                if "Too many files" in str(message):
                    raise over("max_images", most, "the number of images") from None
                raise Refused(400, f"malformed multipart/form-data: {one_line(str(message), 160)}") from None
            try:
                files = [(key, value) for key, value in form.multi_items() if isinstance(value, UploadFile)]
                if len(files) > most:
                    raise over("max_images", most, f"{len(files)} images")
                if not files:
                    raise Refused(422, "the form holds no file: send each image as a file field")
                parts = []
                for index, (key, upload) in enumerate(files):
                    name = upload.filename or f"{key or 'image'} {index}"
                    _check_type(upload.content_type or "", f"{name}: its Content-Type")
                    parts.append((name, await upload.read()))
            finally:
                await form.close()
            return parts
        _check_type(kind, "Content-Type")
        return [("image", bytes(body))]

    def frame_of(name: str, data: bytes):
        """Decoded with predict's checks, faces found and cropped (the workers sharing the cores); refused
        with the limit it breaks."""
        with sharing_cores(options.workers):
            return _frame_of(name, data)

    def _frame_of(name: str, data: bytes):
        if not data:
            raise Refused(422, f"{name}: zero bytes, not an image")
        try:
            pixels = decode_image(data, name, limits.max_pixels)
        except ImageTooLarge as exc:
            raise Refused(413, f"{exc} (fer-zoo serve --max-pixels)", "max_pixels", limits.max_pixels) from None
        except FerZooError as exc:
            raise Refused(422, str(exc)) from None
        except Exception as exc:  # Pillow's other complaints about a malformed file
            raise Refused(422, f"{name}: cannot read image: {one_line(str(exc) or type(exc).__name__, 160)}") \
                from None
        frame = finder.frame(name, None, pixels)
        if len(frame.crops) > limits.max_faces:
            raise over("max_faces", limits.max_faces, f"{name}: {len(frame.crops)} faces", status=422)
        return frame, pixels.shape

    async def frames_of(request: Request, most: int):
        state["requests"] += 1
        parts = await uploads(request, most)
        return [await anyio.to_thread.run_sync(frame_of, name, data, limiter=workers) for name, data in parts]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(PAGE)

    @app.get("/healthz", summary="The process is up")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", summary="The model is loaded and its thread is serving",
             responses={503: {"description": "shutting down"}})
    async def readyz():
        ready = state["serving"] and batcher.alive
        return JSONResponse({"status": "ready" if ready else "stopping"}, 200 if ready else 503)

    @app.get("/v1/model", summary="The model being served", dependencies=[Depends(token)], responses=REFUSALS)
    async def model():
        keras_model = classifier.keras_model
        return {"source": classifier.source, "architecture": getattr(keras_model, "name", None),
                "classes": list(classifier.class_names), "input_shape": list(classifier.input_shape),
                "runtime": classifier.runtime, "detector": finder.detector_name,
                "explain": keras_model is not None, "limits": limits.as_dict(),
                "batching": {"max_batch": options.max_batch, "wait_ms": options.batch_wait_ms,
                             "workers": options.workers}}

    @app.get("/v1/stats", summary="What the server has done: requests, model calls, faces",
             dependencies=[Depends(token)], responses=REFUSALS)
    async def stats():
        return {"requests": state["requests"], "refused": state["refused"], **batcher.stats.as_dict()}

    @app.post("/v1/predict", summary="Faces and their expressions in one image or several",
              dependencies=[Depends(token)], openapi_extra={"requestBody": IMAGE_BODY},
              responses={200: {"content": {"application/json": {"example": FACE_EXAMPLE}}}, **REFUSALS})
    async def predict(request: Request, format: Literal["fer-zoo", "fer"] = Query(
            "fer-zoo", description="fer: each image's answer as the fer package's detect_emotions gives it")):
        found = await frames_of(request, limits.max_images)
        faced = [frame for frame, _ in found if frame.crops]
        answers = iter(await asyncio.wrap_future(batcher.submit(faced)) if faced else [])
        images = []
        for frame, shape in found:
            faces = next(answers) if frame.crops else []
            if format == "fer":
                images.append([{"box": f.box, "emotions": f.probabilities} for f in faces])
            else:
                images.append({"name": frame.source, "width": shape[1], "height": shape[0],
                               "faces": [{"box": f.box, "label": f.label, "probabilities": f.probabilities}
                                         for f in faces]})
        return images if format == "fer" else {"images": images}

    @app.post("/v1/explain", summary="Heat maps of where each face's evidence is, for one image",
              dependencies=[Depends(token)], openapi_extra={"requestBody": IMAGE_BODY},
              responses={200: {"content": {"image/png": {}, "application/json": {}}}, **REFUSALS})
    async def explain(request: Request,
                      format: Literal["png", "json"] = Query("png", description="png: the face and its heat map, "
                                                                                "as fer-zoo explain draws it"),
                      face: int = Query(0, ge=0, description="png: which face (in the order JSON lists them)"),
                      method: Literal["layer-cam", "grad-cam", "grad-cam++"] = "layer-cam",
                      target: str | None = Query(None, alias="class", description="explain this class")):
        from fer_zoo.inference.explain import explain_frame
        from fer_zoo.report.figures import explanation_png, heat_overlay_png

        if classifier.keras_model is None:
            raise Refused(422, f"{classifier.source} runs under {classifier.runtime}: explain needs a Keras model")
        if target is not None and target not in classifier.class_names:  # the query's name, not the CLI's --class
            raise Refused(422, f"class={target}: the model's classes are {', '.join(classifier.class_names)}")
        [(frame, shape)] = await frames_of(request, 1)

        def work():
            import io

            with explaining:
                explanations = explain_frame(classifier, frame, target=target, boxed=finder.detect is not None,
                                             method=method)
                if format == "json":
                    return [{**e.as_dict(), "crop": list(crop_square(b, finder.margin)) if finder.detect else
                             [0, 0, shape[1], shape[0]], "heatmap": "data:image/png;base64," +
                             base64.b64encode(heat_overlay_png(e.heat)).decode()}
                            for e, b in zip(explanations, frame.boxes)]
                if face >= len(explanations):
                    raise Refused(422, f"face {face}: the image has {len(explanations)} face(s)")
                e = explanations[face]
                out = io.BytesIO()
                explanation_png(e.face, e.heat, out, f"{e.label} {e.probabilities[e.label]:.0%} · {method} for "
                                                     f"{e.target} at {e.layer}")
                return out.getvalue()

        answer = await anyio.to_thread.run_sync(work, limiter=workers)
        if format == "json":
            return {"name": frame.source, "width": shape[1], "height": shape[0], "faces": answer}
        return Response(answer, media_type="image/png")

    return app


def _check_type(kind: str, what: str) -> None:
    kind = kind.partition(";")[0].strip().lower()
    if not (kind in ("", "application/octet-stream") or kind.startswith("image/")):
        raise Refused(415, f"{what} is {kind}: send image/* or application/octet-stream bytes, or "
                           f"multipart/form-data files (curl: -H 'Content-Type: image/jpeg' --data-binary @photo.jpg)")


def _version() -> str:
    import fer_zoo

    return fer_zoo.__version__
