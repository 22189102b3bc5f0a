"""`fer-zoo serve`: a real uvicorn server on a loopback port, in a thread, serving the tiny test model: the
endpoints, the limits, the token, 50+ bad uploads each refused with a 4xx while good ones keep being served,
micro-batching (concurrent requests classified in fewer model calls than faces), a graceful stop that
finishes the request in flight, and the web page in headless Chromium."""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import threading
import time
import uuid

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="fer-zoo[serve] is not installed")
pytest.importorskip("uvicorn", reason="fer-zoo[serve] is not installed")

from fer_zoo.errors import FerZooError  # noqa: E402
from fer_zoo.serve import Limits, ServeOptions, check_binding, create_app  # noqa: E402
from tests.conftest import png_claiming  # noqa: E402
from tests.test_html_report import chromium  # noqa: E402

TOKEN = "test-token-7f3a"
LIMITS = Limits(max_bytes=1_500_000, max_pixels=3_000_000, max_images=3, max_faces=1)


def encoded(array: np.ndarray, kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, kind)
    return out.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # shipped inside scikit-image: no download


@pytest.fixture(scope="module")
def photo(astronaut) -> bytes:
    return encoded(astronaut)


class Served:
    """A uvicorn server of ``create_app(predictor, options)`` in a thread, on a free loopback port."""

    def __init__(self, predictor, options: ServeOptions):
        import uvicorn

        self.app = create_app(predictor, options)
        self.token = options.token
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", timeout_graceful_shutdown=30))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        for _ in range(600):
            if self.server.started:
                break
            time.sleep(0.05)
        assert self.server.started

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = "image/jpeg",
                token: str | None = "default", headers: dict | None = None) -> tuple[int, bytes, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        sent = dict(headers or {})
        if content_type is not None and body is not None:
            sent["Content-Type"] = content_type
        token = self.token if token == "default" else token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            connection.close()

    def json(self, method: str, path: str, *args, **kwargs):
        status, body, _ = self.request(method, path, *args, **kwargs)
        return status, json.loads(body)

    def stop(self) -> None:
        self.server.should_exit = True  # what uvicorn's SIGTERM handler does
        self.thread.join(60)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def predictor(tiny_model_file):
    import fer_zoo

    return fer_zoo.Predictor(tiny_model_file)


@pytest.fixture(scope="module")
def served(predictor):
    server = Served(predictor, ServeOptions(token=TOKEN, limits=LIMITS, max_batch=16, batch_wait_ms=5))
    yield server
    server.stop()


def multipart(files: list[tuple[str, bytes, str]], boundary: str | None = None) -> tuple[bytes, str]:
    boundary = boundary or uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                    f"Content-Type: {kind}\r\n\r\n".encode() + data + b"\r\n" for name, data, kind in files)
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_predict_answers_as_the_predictor_does(served, predictor, photo, astronaut):
    status, answer = served.json("POST", "/v1/predict", photo)
    assert status == 200
    [image] = answer["images"]
    assert (image["width"], image["height"]) == (512, 512)
    expected = predictor(np.asarray(Image.open(io.BytesIO(photo))))
    assert [f["box"] for f in image["faces"]] == [f.box for f in expected] and len(expected) == 1
    assert image["faces"][0]["label"] == expected[0].label
    assert image["faces"][0]["probabilities"] == pytest.approx(expected[0].probabilities, abs=1e-5)
    # several images in one multipart request, and the fer package's shape
    body, kind = multipart([("a.jpg", photo, "image/jpeg"), ("b.png", encoded(astronaut[:, ::-1], "PNG"),
                                                                        "image/png")])
    status, both = served.json("POST", "/v1/predict", body, kind)
    assert status == 200 and [i["name"] for i in both["images"]] == ["a.jpg", "b.png"]
    flipped = both["images"][1]["faces"][0]["box"]
    assert abs(flipped[0] - (512 - image["faces"][0]["box"][0] - image["faces"][0]["box"][2])) <= 8  # mirrored
    status, fer = served.json("POST", "/v1/predict?format=fer", body, kind)
    assert status == 200 and len(fer) == 2 and set(fer[0][0]) == {"box", "emotions"}
    assert fer[0][0]["emotions"] == pytest.approx(both["images"][0]["faces"][0]["probabilities"], abs=1e-5)
    # no face: an empty list, not an error
    status, empty = served.json("POST", "/v1/predict", encoded(np.full((200, 200, 3), 128, np.uint8), "PNG"),
                                "image/png")
    assert status == 200 and empty["images"][0]["faces"] == []


def test_model_health_openapi_and_explain(served, predictor, photo):
    status, model = served.json("GET", "/v1/model")
    assert status == 200 and model["classes"] == list(predictor.class_names)
    assert model["input_shape"] == [48, 48, 1] and model["detector"] == predictor.detector
    assert model["runtime"] == predictor.runtime and model["limits"]["max_images"] == 3 and model["explain"]
    assert served.json("GET", "/healthz", token=None) == (200, {"status": "ok"})
    assert served.json("GET", "/readyz", token=None) == (200, {"status": "ready"})
    status, schema = served.json("GET", "/openapi.json", token=None)
    assert status == 200 and {"/v1/predict", "/v1/explain", "/v1/model"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    status, png, headers = served.request("POST", "/v1/explain", photo)
    assert status == 200 and headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png)).size[0] > 200
    status, why = served.json("POST", "/v1/explain?format=json&method=grad-cam", photo)
    assert status == 200 and len(why["faces"]) == 1
    face = why["faces"][0]
    heat = Image.open(io.BytesIO(base64.b64decode(face["heatmap"].partition(",")[2])))
    assert heat.mode == "RGBA" and heat.size == (48, 48)
    x0, y0, x1, y1 = face["crop"]
    bx, by, bw, bh = face["box"]
    assert x0 < bx and y0 < by and x1 > bx + bw and y1 > by + bh  # the crop is the box and its margin
    status, wrong = served.json("POST", "/v1/explain?class=bored", photo)
    assert status == 422 and wrong["error"].startswith("class=bored: the model's classes are angry, ")


def test_token_is_checked_on_every_v1_call(served, photo):
    for method, path, body in (("GET", "/v1/model", None), ("GET", "/v1/stats", None),
                               ("POST", "/v1/predict", photo), ("POST", "/v1/explain", photo)):
        for token in (None, "wrong", TOKEN + "x", ""):
            status, body_, headers = served.request(method, path, body, token=token)
            assert status == 401, (path, token)
            assert headers.get("www-authenticate") == "Bearer" and "bearer token" in json.loads(body_)["error"]
    assert served.request("GET", "/v1/model")[0] == 200
    assert served.request("GET", "/v1/model", headers={"Authorization": f"Basic {TOKEN}"}, token=None)[0] == 401


def test_binding_beyond_loopback_needs_a_token_or_insecure():
    check_binding("127.0.0.1", None, False)
    check_binding("::1", None, False)
    check_binding("localhost", None, False)
    with pytest.raises(FerZooError, match="--host 0.0.0.0: other machines could reach this server; give --token"):
        check_binding("0.0.0.0", None, False)
    check_binding("0.0.0.0", "secret", False)
    check_binding("0.0.0.0", None, True)
    with pytest.raises(FerZooError, match="--token: an empty token"):
        check_binding("0.0.0.0", " ", False)


def test_cli_refuses_an_open_host_before_loading_anything(cli, tiny_model_file):
    result = cli("serve", str(tiny_model_file), "--host", "0.0.0.0")
    assert result.exit_code == 2 and "fer-zoo: error: --host 0.0.0.0: other machines" in result.stderr


def test_limits_are_refused_naming_them(served, astronaut, photo):
    big = encoded(np.random.default_rng(0).integers(0, 255, (900, 900, 3), dtype=np.uint8), "PNG")
    assert len(big) > LIMITS.max_bytes
    status, answer = served.json("POST", "/v1/predict", big, "image/png")
    assert status == 413 and answer["limit"] == "max_bytes" and answer["value"] == LIMITS.max_bytes
    status, answer = served.json("POST", "/v1/predict", png_claiming(2000, 2000), "image/png")
    assert status == 413 and answer["limit"] == "max_pixels" and "2000x2000" in answer["error"]
    body, kind = multipart([(f"{i}.jpg", photo, "image/jpeg") for i in range(4)])
    status, answer = served.json("POST", "/v1/predict", body, kind)
    assert status == 413 and answer["limit"] == "max_images" and answer["value"] == 3
    two = encoded(np.concatenate([astronaut, astronaut], axis=1))
    status, answer = served.json("POST", "/v1/predict", two)
    assert status == 422 and answer["limit"] == "max_faces" and "2 faces" in answer["error"]


def bad_uploads(photo: bytes, astronaut: np.ndarray) -> list[tuple[str, bytes, str | None]]:
    """(what, body, content type) of uploads no server should choke on."""
    png = encoded(astronaut[:200, :200], "PNG")
    rng = np.random.default_rng(1)
    bad = [("zero bytes", b"", "image/jpeg"), ("zero bytes, no type", b"", None),
           ("text as a jpeg", b"hello, I am not a photo", "image/jpeg"), ("text", b"hello", "text/plain"),
           ("json", b'{"image": 1}', "application/json"), ("a form post", b"a=1&b=2",
                                                            "application/x-www-form-urlencoded"),
           ("html", b"<html></html>", "text/html"), ("an svg script", b"<svg onload=alert(1)/>", "image/svg+xml"),
           ("bomb 100000x100000", png_claiming(100_000, 100_000), "image/png"),
           ("bomb 60000x1", png_claiming(60_000, 60_000), "image/png"),
           ("bomb, octet-stream", png_claiming(30_000, 30_000), "application/octet-stream"),
           ("png header only", png[:8], "image/png"), ("gif header only", b"GIF89a\x01\x00", "image/gif"),
           ("bmp header only", b"BM" + b"\0" * 20, "image/bmp"), ("jpeg markers only", b"\xff\xd8\xff\xd9",
                                                                   "image/jpeg"),
           ("corrupt png data", png[:60] + bytes(rng.integers(0, 255, 400, dtype=np.uint8)) + png[460:],
            "image/png")]
    bad += [(f"png cut at {n}", png[:n], "image/png") for n in (20, 33, 50, 100, 400, len(png) // 2,
                                                               len(png) // 4, len(png) * 3 // 4)]
    bad += [(f"jpeg cut at {n}", photo[:n], "image/jpeg") for n in (3, 10, 100, 600, 2000, len(photo) // 3)]
    bad += [(f"random bytes {i}", bytes(rng.integers(0, 255, 64 * (i + 1), dtype=np.uint8)), "image/png")
            for i in range(12)]
    forms = [("a form without a file", b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
              "multipart/form-data; boundary=x"),
             ("a form without a boundary", photo[:500], "multipart/form-data"),
             ("a form cut short", multipart([("a.jpg", photo, "image/jpeg")], "zz")[0][:300],
              "multipart/form-data; boundary=zz"),
             ("a form of text", *multipart([("a.txt", b"hello", "text/plain")])),
             ("a form with an empty file", *multipart([("a.jpg", b"", "image/jpeg")])),
             ("a form with a truncated file", *multipart([("a.jpg", photo[:900], "image/jpeg")])),
             ("a form with a bomb", *multipart([("b.png", png_claiming(50_000, 50_000), "image/png")])),
             ("a form with 20 files", *multipart([(f"{i}.jpg", b"x", "image/jpeg") for i in range(20)])),
             ("a form with a good and a bad file", *multipart([("a.jpg", photo, "image/jpeg"),
                                                               ("b.jpg", photo[:50], "image/jpeg")]))]
    return bad + forms


def test_bad_uploads_are_4xx_and_the_server_keeps_serving(served, photo, astronaut):
    bad = bad_uploads(photo, astronaut)
    assert len(bad) >= 50
    answers = {}
    for index, (what, body, kind) in enumerate(bad):
        for path in ("/v1/predict", "/v1/explain?format=json"):
            status, text, headers = served.request("POST", path, body, kind)
            answers[(what, path)] = status
            assert 400 <= status < 500, (what, path, status, text)
            assert json.loads(text)["error"], what
            assert b"object at 0x" not in text, (what, text)  # no Python object's repr reaches a client
        if index % 5 == 0:
            status, good = served.json("POST", "/v1/predict", photo)
            assert status == 200 and len(good["images"][0]["faces"]) == 1, what
    assert answers[("text", "/v1/predict")] == 415 and answers[("zero bytes", "/v1/predict")] == 422
    assert answers[("bomb 100000x100000", "/v1/predict")] == 413
    assert answers[("jpeg cut at 2000", "/v1/predict")] == 422
    status, text, _ = served.request("POST", "/v1/predict", b"hello, I am not a photo", "image/jpeg")
    assert (status, json.loads(text)["error"]) == (422, "image: cannot read image: not a PNG, JPEG, BMP, GIF, TIFF, "
                                                     "WebP or PGM/PPM image")
    assert answers[("a form with 20 files", "/v1/predict")] == 413
    assert served.json("GET", "/readyz", token=None)[0] == 200


def test_concurrent_requests_are_classified_together(predictor, photo):
    # the batch runs once 8 faces are waiting: 8 one-face requests at once, one model call
    server = Served(predictor, ServeOptions(max_batch=8, batch_wait_ms=10_000, workers=4))
    try:
        results = [None] * 8

        def ask(i):
            results[i] = server.json("POST", "/v1/predict", photo)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert all(r is not None and r[0] == 200 and len(r[1]["images"][0]["faces"]) == 1 for r in results)
        status, stats = server.json("GET", "/v1/stats")
        assert stats["faces"] == 8 and stats["jobs"] == 8
        assert stats["batches"] == 1 and stats["largest"] == 8
    finally:
        server.stop()


def test_the_workers_share_the_cores(predictor, photo, monkeypatch):
    # each of --workers threads finds faces with its share of the cores: 8 cores, 4 workers, 2 threads a call
    import os

    import fer_zoo

    seen, detect = [], predictor.finder.detect

    def recording(image, source):
        seen.append(fer_zoo.call_threads())
        return detect(image, source)

    recording.name = detect.name
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(predictor.finder, "detect", recording)
    server = Served(predictor, ServeOptions(workers=4))
    try:
        assert server.json("POST", "/v1/predict", photo)[0] == 200
    finally:
        server.stop()
    assert seen == [2] and fer_zoo.call_threads() == 8


def test_stopping_finishes_the_request_in_flight(predictor, photo):
    server = Served(predictor, ServeOptions(max_batch=64, batch_wait_ms=3000))  # a lone face waits 3 s
    answer = []
    thread = threading.Thread(target=lambda: answer.append(server.json("POST", "/v1/predict", photo)))
    thread.start()
    for _ in range(600):
        if server.json("GET", "/v1/stats")[1]["requests"] == 1:  # the predict call is in
            break
        time.sleep(0.02)
    assert not answer  # still waiting for its batch when the stop comes
    server.stop()
    thread.join(60)
    assert answer and answer[0][0] == 200 and len(answer[0][1]["images"][0]["faces"]) == 1
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    assert not server.app.state.batcher.alive


def test_the_web_page_boxes_the_face_with_its_emotion(predictor, photo, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = Served(predictor, ServeOptions())
    try:
        status, page, _ = server.request("GET", "/")
        assert status == 200 and b"http://" not in page and b"https://" not in page  # self-contained
        status, answer = server.json("POST", "/v1/predict", photo)
        expected = [f["label"] for f in answer["images"][0]["faces"]]
        (tmp_path / "astronaut.jpg").write_bytes(photo)
        browser = chromium()
        try:
            browser.get(f"http://127.0.0.1:{server.port}/")
            picker = browser.find_element(By.ID, "files")
            browser.execute_script("arguments[0].hidden = false", picker)
            picker.send_keys(str(tmp_path / "astronaut.jpg"))
            WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".face-box, .error"))
            boxes = browser.find_elements(By.CSS_SELECTOR, ".face-box")
            assert [b.find_element(By.CSS_SELECTOR, ".face-label").text for b in boxes] == expected
            assert len(expected) == 1
            assert len(browser.find_elements(By.CSS_SELECTOR, ".bars div")) == 7  # one bar per emotion
            assert "detector" in browser.find_element(By.ID, "model").text
            problems = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
            assert problems == []
        finally:
            browser.quit()
    finally:
        server.stop()


def test_the_command_stops_on_sigterm_after_the_request_in_flight(tiny_model_file, photo):
    import os
    import re
    import signal
    import subprocess
    import sys

    from tests.conftest import repo_root

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo_root()), str(repo_root() / "plugins"),
                                                        os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "fer_zoo", "serve", str(tiny_model_file), "--port", "0",
                                "--batch-wait-ms", "3000", "--max-batch", "64"], stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        for line in process.stderr:
            if match := re.search(r"serving .* on http://127\.0\.0\.1:(\d+) ", line):
                break
        else:
            pytest.fail("the server never said it was serving")
        port = int(match.group(1))

        class Client(Served):  # the request helpers, pointed at the child's port
            def __init__(self):
                self.port, self.token = port, None

        client = Client()
        answer = []
        thread = threading.Thread(target=lambda: answer.append(client.json("POST", "/v1/predict", photo)))
        thread.start()
        for _ in range(600):
            if client.json("GET", "/v1/stats")[1]["requests"] == 1:
                break
            time.sleep(0.02)
        assert not answer
        process.send_signal(signal.SIGTERM)
        thread.join(60)
        rest = process.stderr.read()
        assert process.wait(60) == 0
    finally:
        process.kill()
    assert answer and answer[0][0] == 200 and len(answer[0][1]["images"][0]["faces"]) == 1
    assert "stopped: 1 requests with faces, 1 faces in 1 model calls" in rest
