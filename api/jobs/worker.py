"""Scoring one claimed call with the library, renewing its lease while the pipeline runs."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from scorer import Scorer

from ..db.models import Call
from ..db.session import session
from .. import metrics
from . import queue

log = logging.getLogger("hostscore.worker")


def load(scorer: Scorer) -> str | None:
    """Load the scorer's models before the first call: None when they loaded, else why not. A model
    that will not load does not stop the worker: each call then fails with the reason (``run``) and is
    FAILED after its attempts, rather than waiting on a worker that never starts."""
    try:
        scorer.load()
    except Exception as e:  # noqa: BLE001 - said by readiness and by every call's failure
        log.exception("loading the models")
        return f"{type(e).__name__}: {e}"
    return None


def run(url: str, data_dir: Path, scorer: Scorer, held: queue.Claim, lease_s: float, attempts: int) -> str | None:
    """Score the claimed call and store its result or failure; returns the call's new status.
    Bad input (the library's ValueError: a corrupt or silent-length recording, a bad transcript) fails
    at once with the library's one-line reason; anything else is retried up to ``attempts`` times."""
    with session(url) as s:
        call = s.get(Call, held.call_id)
        kind, transcript, external, agent_channel = call.kind, call.transcript, call.external_id, call.agent_channel
        stored = Path(data_dir) / call.audio_path if call.audio_path else None
        shown = call.filename or "the recording"  # errors name the file as the caller knows it
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(url, held, lease_s, stop), daemon=True)
    renewer.start()
    started = time.perf_counter()
    # Whisper is loaded before the input is read: a model that will not load is this worker's fault,
    # not the call's, and is retried
    loaded = kind != "audio"
    try:
        if not loaded:
            queue.report_stage(url, held, "loading the speech model")
            scorer.transcriber
            loaded = True
            queue.report_stage(url, held, "transcribing")
            result = scorer.score_file(stored, progress=_transcribed(url, held), call_id=external or held.call_id,
                                       agent_channel=agent_channel)
        else:
            queue.report_stage(url, held, "scoring the conversation")
            result = scorer.score_conversation(transcript, call_id=external or held.call_id)
    except Exception as e:  # noqa: BLE001 - a bug or a resource problem: worth another try
        if loaded and isinstance(e, ValueError):  # AudioError, InputError: the input, not the service
            reason = str(e).replace(str(stored), shown) if stored else str(e)
            return queue.fail(url, held, " ".join(reason.split()), retry=False, attempts=attempts)
        log.exception("scoring call %s failed", held.call_id)
        return queue.fail(url, held, f"{type(e).__name__}: {e}", retry=True, attempts=attempts)
    finally:
        stop.set()
    log.info("scored call %s in %.1f s", held.call_id, time.perf_counter() - started)
    for stage, seconds in result.timings.items():
        metrics.STAGE_SECONDS.labels(stage).observe(seconds)
    return "COMPLETED" if queue.complete(url, held, result.to_dict()) else None


def take(url: str, data_dir: Path, scorer: Scorer, lease_s: float, attempts: int, on_finished,
         call_id: str | None = None) -> tuple[str, str | None] | None:
    """Claim a queued call (the oldest, or ``call_id``), score it and tell ``on_finished``: what the
    embedded pool and a Celery task both do. Returns (call id, new status), or None when nothing was queued."""
    held = queue.claim(url, call_id)
    if held is None:
        return None
    status = run(url, data_dir, scorer, held, lease_s, attempts)
    announce(on_finished, held.call_id, status)
    return held.call_id, status


def requeue(url: str, lease_s: float, attempts: int, on_finished) -> list[str]:
    """Queue again the calls whose worker stopped renewing its lease (FAILED after ``attempts``),
    telling ``on_finished``; returns the ids queued again."""
    changed = queue.requeue_expired(url, lease_s, attempts)
    for call_id, status in changed:
        announce(on_finished, call_id, status)
    return [call_id for call_id, status in changed if status == "QUEUED"]


def announce(on_finished, call_id: str, status: str | None) -> None:
    """The hook after a job (metrics, webhooks): in whichever process ran it, and never its undoing."""
    if status and on_finished:
        try:
            on_finished(call_id, status)
        except Exception:  # noqa: BLE001 - a hook must not stop the worker
            log.exception("after call %s", call_id)


def _transcribed(url: str, held: queue.Claim, every_s: float = 2.0):
    """The pipeline's progress (seconds of audio transcribed, over all channels) as the call's stage,
    written at most every ``every_s`` so a long call does not write the database for each segment."""
    last = [0.0]

    def progress(seconds: float) -> None:
        if time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            queue.report_stage(url, held, f"transcribing: {seconds:.0f} s of audio done")

    return progress


def _renew(url: str, held: queue.Claim, lease_s: float, stop: threading.Event) -> None:
    while not stop.wait(lease_s / 3):
        if not queue.renew(url, held):
            return
