"""Load test of `fer-zoo serve`: N concurrent clients x M requests of real photos against the server (its
own process, started here through the CLI on a loopback port), against the same photos through
fer_zoo.Predictor in a loop (half of them before the server runs, half after). Prints throughput,
p50/p99 latency, errors and 5xx counted, CPU time per request, and the server's resident memory: idle,
after a warm-up at the run's concurrency, halfway, at most and after the run.

    python scripts/bench_serve.py mini_xception --clients 16 --requests 125    # 2,000 requests
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def photos() -> list[bytes]:
    """The astronaut (skimage, no download) as JPEG at three sizes, mirrored or not: one face each."""
    from PIL import Image
    from skimage import data

    base = Image.fromarray(data.astronaut())
    out = []
    for side in (512, 384, 640):
        for mirror in (False, True):
            img = base.resize((side, side))
            img = img.transpose(Image.FLIP_LEFT_RIGHT) if mirror else img
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=90)
            out.append(buf.getvalue())
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (/proc/PID/stat), every thread counted."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(connection: http.client.HTTPConnection, body: bytes) -> int:
    connection.request("POST", "/v1/predict", body=body, headers={"Content-Type": "image/jpeg"})
    response = connection.getresponse()
    response.read()
    return response.status


def load(port: int, images: list[bytes], clients: int, requests: int):
    latencies, statuses, errors = [], [], []
    lock = threading.Lock()

    def client(index: int):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for i in range(requests):
            body = images[(index + i) % len(images)]
            start = time.perf_counter()
            try:
                status = post(connection, body)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(repr(exc))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                statuses.append(status)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, np.array(latencies), statuses, errors


def sequential(predictor, paths: list[Path], count: int) -> dict:
    """``count`` photos through ``predictor`` one after the other: seconds, CPU seconds, each latency."""
    latencies, cpu, start = [], cpu_seconds(os.getpid()), time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        predictor(paths[i % len(paths)])
        latencies.append(time.perf_counter() - t0)
    return {"seconds": time.perf_counter() - start, "cpu": cpu_seconds(os.getpid()) - cpu, "latencies": latencies}


def serve(args, images: list[bytes]) -> dict:
    """`fer-zoo serve` started, warmed up and loaded with ``args.clients`` x ``args.requests``, then stopped."""
    port = free_port()
    command = [sys.executable, "-m", "fer_zoo", "serve", args.model, "--port", str(port), "--detector",
               args.detector, *args.serve_args.split()]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(1200):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not come up")
        idle = rss_mb(server.pid)  # the model loaded, nothing served yet
        # warm-up at the run's concurrency: the ONNX sessions and detector of each worker thread, the buffers
        # of N connections at once; what the run adds after this is what serving more requests costs
        load(port, images, args.clients, args.warmup)
        before, server_cpu, client_cpu = rss_mb(server.pid), cpu_seconds(server.pid), cpu_seconds(os.getpid())
        samples, running = [], threading.Event()
        running.set()

        def sample():  # the server's memory through the run, every half second
            while running.is_set():
                samples.append(rss_mb(server.pid))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        seconds, latencies, statuses, errors = load(port, images, args.clients, args.requests)
        running.clear()
        sampler.join()
        after = rss_mb(server.pid)
        server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu, cpu_seconds(os.getpid()) - client_cpu
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/v1/stats")
        stats = json.loads(connection.getresponse().read())
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=120)
    return {"seconds": seconds, "latencies": latencies, "statuses": statuses, "errors": errors, "idle": idle,
            "before": before, "samples": samples, "after": after, "server_cpu": server_cpu,
            "client_cpu": client_cpu, "stats": stats, "exit": server.returncode, "stderr": stderr}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="anything fer_zoo.Predictor takes (mini_xception: the plugin's weights)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=125, help="per client")
    parser.add_argument("--sequential", type=int, default=200, help="photos through Predictor in a loop")
    parser.add_argument("--warmup", type=int, default=20, help="requests per client before the measured run")
    parser.add_argument("--detector", default="auto")
    parser.add_argument("--serve-args", default="", help="more `fer-zoo serve` flags, e.g. '--workers 2'")
    args = parser.parse_args()
    images = photos()

    import fer_zoo

    predictor = fer_zoo.Predictor(args.model, detector=args.detector)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, body in enumerate(images):
            paths.append(Path(tmp) / f"photo{i}.jpg")
            paths[-1].write_bytes(body)
        for path in paths:  # warm-up
            predictor(path)
        # the loop runs half its photos before the server and half after, so that a slower spell of a shared
        # machine weighs on both sides alike
        before_run = sequential(predictor, paths, args.sequential // 2)
        run = serve(args, images)
        after_run = sequential(predictor, paths, args.sequential - args.sequential // 2)
    loop = {key: before_run[key] + after_run[key] for key in ("seconds", "cpu", "latencies")}
    total, done, count = args.clients * args.requests, len(run["statuses"]), args.sequential
    rate, loop_rate = done / run["seconds"], count / loop["seconds"]
    samples = run["samples"]
    result = {
        "model": args.model, "runtime": predictor.runtime, "detector": predictor.detector,
        "requests": total, "clients": args.clients,
        "errors": len(run["errors"]) + sum(s != 200 for s in run["statuses"]),
        "5xx": sum(s >= 500 for s in run["statuses"]), "connection_errors": len(run["errors"]),
        "server_photos_per_s": round(rate, 1),
        "sequential_photos_per_s": round(loop_rate, 1),
        "sequential_photos_per_s_before_after": [round(len(half["latencies"]) / half["seconds"], 1)
                                                 for half in (before_run, after_run)],
        "speedup": round(rate / loop_rate, 2),
        "latency_ms_p50": round(1000 * float(np.percentile(run["latencies"], 50)), 1),
        "latency_ms_p99": round(1000 * float(np.percentile(run["latencies"], 99)), 1),
        "sequential_ms_p50": round(1000 * float(np.percentile(loop["latencies"], 50)), 1),
        "sequential_cpu_ms_per_photo": round(1000 * loop["cpu"] / count, 1),
        "server_cpu_ms_per_request": round(1000 * run["server_cpu"] / max(done, 1), 1),
        "client_cpu_ms_per_request": round(1000 * run["client_cpu"] / max(done, 1), 1),
        "server_rss_mb_idle": round(run["idle"], 1), "server_rss_mb_before": round(run["before"], 1),
        "server_rss_mb_halfway": round(samples[len(samples) // 2], 1) if samples else None,
        "server_rss_mb_max": round(max(samples, default=run["after"]), 1),
        "server_rss_mb_after": round(run["after"], 1), "rss_growth_mb": round(run["after"] - run["before"], 1),
        "model_calls": run["stats"]["batches"], "faces": run["stats"]["faces"],
        "largest_batch": run["stats"]["largest"], "server_exit": run["exit"], "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    if run["errors"]:
        print("first errors:", run["errors"][:3], file=sys.stderr)
    stderr = run["stderr"].strip()
    print(stderr.splitlines()[-1] if stderr else "", file=sys.stderr)


if __name__ == "__main__":
    main()
