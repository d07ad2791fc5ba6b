"""Retention against a real `hostscore serve` with HOSTSCORE_RETENTION_DAYS=1: calls older than a day are
deleted (row, recording, reviews) by the periodic sweep, younger ones are kept. The old calls are made
old by moving their posting time back two days in the database (a day is too long to wait)."""

from __future__ import annotations

import io
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pytest
import soundfile as sf

from conftest import Service

CONVERSATION = {"turns": [
    {"speaker": "CUSTOMER", "text": "Hi, my card was charged twice for the same order.", "begin_ms": 0, "end_ms": 3000},
    {"speaker": "AGENT", "text": "I've refunded the second charge now.", "begin_ms": 3400, "end_ms": 6000},
    {"speaker": "CUSTOMER", "text": "Thank you, that's sorted then.", "begin_ms": 6500, "end_ms": 8000},
]}
SWEEP_S = 0.3


@pytest.fixture(scope="module")
def retaining(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("retention"), {"HOSTSCORE_RETENTION_DAYS": "1",
                                                             "HOSTSCORE_RETENTION_SWEEP_S": str(SWEEP_S)}).start()
    yield running
    running.stop()


def status(service: Service, call_id: str) -> int:
    return httpx.get(f"{service.url}/v1/calls/{call_id}", headers=service.headers("platform"), timeout=30).status_code


def post_text(service: Service) -> str:
    return httpx.post(f"{service.url}/v1/transcripts", json=CONVERSATION, headers=service.headers("platform"),
                      timeout=30).json()["id"]


def test_calls_past_retention_are_deleted_with_recording_and_reviews(retaining):
    old_text, young = post_text(retaining), post_text(retaining)
    wav = io.BytesIO()
    sf.write(wav, np.zeros(16000, dtype=np.float32), 16000, format="WAV", subtype="PCM_16")
    old_audio = httpx.post(f"{retaining.url}/v1/calls", files={"audio": ("cut.wav", wav.getvalue()[:100], "audio/wav")},
                           headers=retaining.headers("platform"), timeout=30).json()["id"]
    for call_id in (old_text, young, old_audio):
        retaining.wait_for(call_id)
    for call_id in (old_text, young):
        review = httpx.post(f"{retaining.url}/v1/calls/{call_id}/reviews", json={"note": "fine", "overrides": {"energy": 50}},
                            headers=retaining.headers("supervisor"), timeout=30)
        assert review.status_code == 201, review.text
    recording = next((retaining.data_dir / "audio").rglob(f"{old_audio}.*"))
    time.sleep(3 * SWEEP_S)
    assert all(status(retaining, c) == 200 for c in (old_text, young, old_audio))  # none is a day old yet

    two_days_ago = (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(retaining.data_dir / "hostscore.db") as db:
        db.execute("UPDATE calls SET created_at = ? WHERE id IN (?, ?)", (two_days_ago, old_text, old_audio))
    deadline = time.monotonic() + 30
    while status(retaining, old_text) != 404 or status(retaining, old_audio) != 404:
        assert time.monotonic() < deadline, "calls past retention were not deleted"
        time.sleep(0.1)
    time.sleep(3 * SWEEP_S)
    assert status(retaining, young) == 200
    assert not recording.exists()
    with sqlite3.connect(retaining.data_dir / "hostscore.db") as db:
        assert db.execute("SELECT count(*) FROM calls WHERE id IN (?, ?)", (old_text, old_audio)).fetchone() == (0,)
        assert db.execute("SELECT call_id FROM reviews").fetchall() == [(young,)]
