"""The embedded worker: threads in the API process that load the models once and take calls from
the queue, woken when a call arrives and otherwise polling; expired leases are requeued as they go."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

from scorer import Scorer

from . import worker

IDLE_POLL_S = 1.0


class WorkerPool:
    def __init__(self, url: str, data_dir: Path, scorer_factory, threads: int, lease_s: float, attempts: int):
        self.url, self.data_dir = url, data_dir
        self.scorer_factory = scorer_factory
        self.threads, self.lease_s, self.attempts = threads, lease_s, attempts
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._scorer: Scorer | None = None
        self.load_error: str | None = None
        self._scorer_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.on_finished = None  # called with (call_id, status) after each job: webhooks, metrics

    @property
    def scorer(self) -> Scorer:
        with self._scorer_lock:  # one Scorer for every thread: the models are loaded once
            if self._scorer is None:
                scorer = self.scorer_factory()
                self.load_error = worker.load(scorer)
                self._scorer = scorer
                # The models are never garbage: kept out of the collector's passes, as the API's own
                # objects are (main.py's lifespan), so a full pass no longer stalls every request in
                # flight (60-70 ms over the models' objects; bench/README.md).
                gc.freeze()
            return self._scorer

    @property
    def models(self) -> str:
        """Readiness's word on the models: "loaded", "loading" or why they did not load."""
        if self._scorer is None:
            return "loading"
        return f"not loaded: {self.load_error}" if self.load_error else "loaded"

    def start(self) -> None:
        # a call left IN_PROGRESS by a process that is gone is requeued at once, not after its lease
        worker.requeue(self.url, 0.0, self.attempts, self.on_finished)
        for i in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"hostscore-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def notify(self, call_id: str | None = None) -> None:
        """A call was queued: a waiting thread takes it (the oldest first, so ``call_id`` is not needed)."""
        self.wake.set()

    def check(self) -> str:
        """The queue is this process's threads: "ok" while they run."""
        alive = sum(t.is_alive() for t in self._threads)
        return "ok" if alive == self.threads else f"{alive} of {self.threads} worker threads running"

    def _loop(self) -> None:
        self.scorer  # load the models before the first call waits on them
        last_sweep = 0.0
        while not self.stopping.is_set():
            if time.monotonic() - last_sweep > self.lease_s / 2:
                worker.requeue(self.url, self.lease_s, self.attempts, self.on_finished)
                last_sweep = time.monotonic()
            if worker.take(self.url, self.data_dir, self.scorer, self.lease_s, self.attempts, self.on_finished) is None:
                self.wake.wait(IDLE_POLL_S)
                self.wake.clear()
