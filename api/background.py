"""The API process's housekeeping thread: it sends the webhook deliveries that are due (woken when a
job finishes, else once a second) and, when a retention period is set, deletes the calls past it."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import httpx

from scorer.settings import Settings

from .services import retention, webhooks

log = logging.getLogger("hostscore.background")
POLL_S = 1.0


class Background:
    def __init__(self, url: str, data_dir: Path, config: Settings):
        self.url, self.data_dir, self.config = url, data_dir, config
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="hostscore-background", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        last_sweep = None
        with httpx.Client(follow_redirects=False) as client:
            while not self.stopping.is_set():
                try:
                    webhooks.send_due(self.url, client, self.config.webhook_retry_base_s, self.config.webhook_attempts)
                    days = self.config.retention_days
                    if days and (last_sweep is None or time.monotonic() - last_sweep >= self.config.retention_sweep_s):
                        if deleted := retention.sweep(self.url, self.data_dir, days):
                            log.info("deleted %d calls older than %g days", deleted, days)
                        last_sweep = time.monotonic()
                except Exception:  # noqa: BLE001 - the database may be down for a while: try again next time
                    log.exception("housekeeping")
                self.wake.wait(POLL_S)
                self.wake.clear()
