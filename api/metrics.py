"""Prometheus metrics: uploads, jobs by outcome and seconds per pipeline stage, counted in whichever
process did the work (the API, its embedded worker, or a `hostscore worker` of the Celery queue), and
calls by status, read from the database when scraped.

The counts are kept in prometheus_client's multiprocess mode: each process writes its own files under
the data dir's ``metrics/`` (which the workers share with the API, as they share its recordings), and
the API's /metrics adds them up, so a worker's jobs show there as the embedded worker's do. A stopped
process's files stay in the sums: the totals survive restarts."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .jobs import queue

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"  # where prometheus_client's multiprocess mode writes
STATUSES = ("QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED")

# not registered anywhere: in multiprocess mode the files are what is collected
UPLOADS = Counter("hostscore_uploads", "calls and transcripts accepted", ["kind"], registry=None)
JOBS = Counter("hostscore_jobs_finished", "scoring jobs finished, by the call's status", ["status"], registry=None)
STAGE_SECONDS = Histogram("hostscore_stage_seconds", "seconds per pipeline stage", ["stage"], registry=None,
                          buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900))


def directory(data_dir: Path) -> Path:
    return Path(data_dir) / "metrics"


def count_in(data_dir: Path) -> None:
    """Count this process's metrics into ``data_dir``'s metrics/ from now on (call it before the first
    count). Files are named by host and process id: workers on other hosts share the data dir, and
    their process ids can be the API's (in containers)."""
    directory(data_dir).mkdir(parents=True, exist_ok=True)
    os.environ[ENVIRONMENT] = str(directory(data_dir))
    host = socket.gethostname().replace("_", "-")  # the collector splits file names at "_"
    values.ValueClass = values.MultiProcessValue(lambda: f"{host}-{os.getpid()}")


class CallsByStatus:
    """The hostscore_calls gauge, read from the calls table (the queue) at each scrape."""

    def __init__(self, url: str):
        self.url = url

    def collect(self):
        gauge = GaugeMetricFamily("hostscore_calls", "calls by status", labels=["status"])
        counts = queue.depth(self.url)
        for status in STATUSES:
            gauge.add_metric([status], counts.get(status, 0))
        yield gauge


def exposition(url: str, data_dir: Path) -> bytes:
    """Every process's counts in ``data_dir`` and the calls by status, in Prometheus' text format."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory(data_dir)))
    registry.register(CallsByStatus(url))
    return generate_latest(registry)
