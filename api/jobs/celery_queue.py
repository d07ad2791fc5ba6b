"""The scale-out queue: Celery with a broker (Redis) in front of the same calls table. The API sends
a task holding only the call id; a `hostscore worker` process (here or on a GPU machine) claims the
call from the database with the same claim/complete/fail code as the embedded pool, so the database
stays the source of truth and a message is only a wake-up. A lost message or a SIGKILLed worker
loses nothing: a sweep (in every worker, and in the API as it starts) requeues expired leases and
sends the queued calls again when the broker holds no message; a duplicate message finds its call
taken and does nothing. Tasks are acknowledged after they run, one at a time per worker, in a thread
of the worker's, so that its main thread answers pings (the API's readiness) while it scores."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

from celery import Celery
from kombu.exceptions import ChannelError

from . import queue, worker

log = logging.getLogger("hostscore.celery")
TASK = "hostscore.score"
PING_TIMEOUT_S = 1.0  # how long readiness waits for the first worker to answer
CHECK_CACHE_S = 5.0  # readiness is checked at most this often: /readyz stays fast however often it is asked


def make_app(broker_url: str, queue_name: str) -> Celery:
    app = Celery("hostscore", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue_name,
        task_acks_late=True,  # a worker killed mid-call leaves its message unacknowledged, not lost
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds one call at a time: the rest wait for free workers
        task_ignore_result=True,  # the result is the call's row
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
    )
    return app


class CeleryQueue:
    """What the API holds in place of the pool (``notify``, ``ready``, ``check``, ``start``, ``stop``),
    and the sending side of every worker."""

    def __init__(self, url: str, broker_url: str, queue_name: str, lease_s: float, attempts: int):
        self.url, self.queue_name = url, queue_name
        self.lease_s, self.attempts = lease_s, attempts
        self.app = make_app(broker_url, queue_name)
        self.on_finished = None  # called with (call_id, status) when a sweep FAILs a call
        self._checked: tuple[float, str] | None = None  # (when, what the last check said)
        self._check_lock = threading.Lock()

    models = "loaded"  # the API scores nothing itself: the workers load the models before they take a task

    def start(self) -> None:
        try:
            self.sweep()
        except Exception:  # noqa: BLE001 - the broker may be down: readyz says so, and workers sweep too
            log.exception("sweeping the queue at start-up")

    def stop(self) -> None:
        self.app.close()

    def notify(self, call_id: str | None = None) -> None:
        """A call was queued: send its task (the call stays QUEUED in the database if this fails,
        and a sweep sends it later)."""
        try:
            self.send(call_id) if call_id else self.sweep()
        except Exception:  # noqa: BLE001 - never lose the 202 over the broker: the row is committed
            log.exception("sending the task of call %s", call_id)

    def send(self, call_id: str) -> None:
        self.app.send_task(TASK, args=[call_id], queue=self.queue_name)

    def check(self) -> str:
        """"ok" when the broker is reachable and at least one worker answers a ping; else what is not.
        Said again for CHECK_CACHE_S before it is asked again."""
        with self._check_lock:
            if self._checked is None or time.monotonic() - self._checked[0] > CHECK_CACHE_S:
                self._checked = (time.monotonic(), self._check_now())
            return self._checked[1]

    def _check_now(self) -> str:
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
            answered = self.app.control.ping(timeout=PING_TIMEOUT_S, limit=1)
        except Exception as e:  # noqa: BLE001 - any failure is "not ready", said in words
            return f"broker unreachable: {type(e).__name__}"
        return "ok" if answered else f"no worker answered a ping in {PING_TIMEOUT_S:g} s (start `hostscore worker`)"

    def waiting(self) -> int:
        """Messages in the broker that no worker has taken yet."""
        with self.app.connection_for_write() as connection:
            try:
                return self.app.amqp.queues[self.queue_name](connection.default_channel).queue_declare(passive=True).message_count
            except ChannelError:  # Redis: an empty queue does not exist
                return 0

    def sweep(self) -> None:
        """Requeue expired leases and send their tasks; when the broker holds no message, send one
        for every queued call (a message lost, or never sent because the API stopped between commit and send)."""
        for call_id in worker.requeue(self.url, self.lease_s, self.attempts, self.on_finished):
            self.send(call_id)
        if self.waiting() == 0:
            for call_id in queue.queued(self.url):
                self.send(call_id)


def run_worker(jobs: CeleryQueue, data_dir: Path, scorer, loglevel: str = "INFO") -> None:
    """A Celery worker in this process: one call at a time with the models loaded once (run more
    processes, here or on other machines, to score more at once), sweeping every half lease."""

    @jobs.app.task(name=TASK)
    def score(call_id: str) -> None:
        taken = worker.take(jobs.url, data_dir, scorer, jobs.lease_s, jobs.attempts, jobs.on_finished, call_id)
        if taken and taken[1] == "QUEUED":  # failed, with attempts left: another try, by whichever worker is free
            jobs.send(call_id)

    stopping = threading.Event()

    def sweeping() -> None:
        while not stopping.wait(jobs.lease_s / 2):
            try:
                jobs.sweep()
            except Exception:  # noqa: BLE001 - the broker or database may be back at the next sweep
                log.exception("sweeping the queue")

    worker.load(scorer)  # before the first task; a model that will not load fails each call with the reason
    jobs.start()
    threading.Thread(target=sweeping, name="hostscore-sweep", daemon=True).start()
    try:
        # one task thread: the main thread stays free to answer pings while a call is scored
        jobs.app.worker_main(["worker", "--pool=threads", "--concurrency=1", f"--loglevel={loglevel}",
                              f"--queues={jobs.queue_name}", f"--hostname=hostscore-{os.getpid()}@{socket.gethostname()}",
                              "--without-gossip", "--without-mingle"])
    finally:
        stopping.set()
