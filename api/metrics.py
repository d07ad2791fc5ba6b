"""Prometheus metrics of this process: uploads, jobs by outcome, seconds per pipeline stage, queue depth."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .jobs import queue

REGISTRY = CollectorRegistry()
UPLOADS = Counter("hostscore_uploads", "calls and transcripts accepted", ["kind"], registry=REGISTRY)
JOBS = Counter("hostscore_jobs_finished", "scoring jobs finished, by the call's status", ["status"], registry=REGISTRY)
STAGE_SECONDS = Histogram("hostscore_stage_seconds", "seconds per pipeline stage", ["stage"], registry=REGISTRY,
                          buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900))
QUEUE = Gauge("hostscore_calls", "calls by status", ["status"], registry=REGISTRY)


def observe_queue(url: str) -> None:
    counts = queue.depth(url)
    for status in ("QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED"):
        QUEUE.labels(status).set(counts.get(status, 0))
