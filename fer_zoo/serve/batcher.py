"""Micro-batching: the faces of concurrent requests classified together, by one model thread.

A request hands over its frames (fer_zoo.inference.predict.FaceFinder's, faces already cropped) and gets a
future. The model thread takes the first waiting job, then keeps taking jobs until ``max_batch`` faces are
gathered or ``max_wait`` seconds have passed since it took the first, and classifies them all in one call
(fer_zoo.inference.predict.classify_frames). While a batch runs, new jobs queue, so under load batches fill
without waiting. One thread owns the model, so a runtime that is not thread-safe is never called twice at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from fer_zoo.errors import FerZooError

_STOP = object()


@dataclass
class BatchStats:
    """What the model thread has done: ``batches`` model calls for ``faces`` faces of ``jobs`` requests."""

    jobs: int = 0
    faces: int = 0
    batches: int = 0
    largest: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class MicroBatcher:
    """``classify(frames) -> faces per frame`` called on the frames of several jobs at once."""

    def __init__(self, classify: Callable[[list], list], max_batch: int = 32, max_wait: float = 0.005):
        if max_batch < 1 or not 0 <= max_wait <= 10:
            raise FerZooError("--max-batch must be at least 1 and --batch-wait-ms in [0, 10000]")
        self.classify, self.max_batch, self.max_wait = classify, max_batch, max_wait
        self.stats = BatchStats()
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="fer-zoo-batcher", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, frames: list) -> Future:
        """A future of ``classify(frames)``'s answer, classified with whatever other jobs are waiting."""
        future: Future = Future()
        if not self.alive:
            future.set_exception(RuntimeError("the model thread has stopped"))
        else:
            self._queue.put((frames, sum(len(f.crops) for f in frames), future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Finish the jobs already submitted, then stop the model thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _loop(self) -> None:
        import time

        carry = None
        while True:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is _STOP:
                return
            batch, faces = [first], first[1]
            deadline = time.monotonic() + self.max_wait
            stop = False
            while faces < self.max_batch:
                try:
                    job = self._queue.get(timeout=max(deadline - time.monotonic(), 0)) \
                        if deadline > time.monotonic() else self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                if faces + job[1] > self.max_batch:
                    carry = job  # the first of the next batch
                    break
                batch.append(job)
                faces += job[1]
            self._run(batch, faces)
            if stop:
                carry = _STOP

    def _run(self, batch: list, faces: int) -> None:
        frames = [frame for job in batch for frame in job[0]]
        try:
            answer = self.classify(frames)
        except BaseException as exc:  # the requests fail; the thread lives on for the next ones
            for _, _, future in batch:
                future.set_exception(exc)
            return
        with self._lock:
            self.stats.jobs += len(batch)
            self.stats.faces += faces
            self.stats.batches += 1
            self.stats.largest = max(self.stats.largest, faces)
        start = 0
        for frames_of_job, _, future in batch:
            future.set_result(answer[start:start + len(frames_of_job)])
            start += len(frames_of_job)
