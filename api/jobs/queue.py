"""The job queue is the calls table: a call is QUEUED until a worker claims it (IN_PROGRESS, with a
claim token and a lease the worker renews while it scores), then COMPLETED or FAILED. A worker that
dies stops renewing; its call is queued again once the lease runs out, and after ``attempts`` claims
it is FAILED with the reason. Only the holder of the current claim can store a result, so a call
completes exactly once however many workers raced for it. A call's webhook deliveries are written in
the transaction that makes it COMPLETED or FAILED, so a worker that dies just after loses none. The
same table serves the in-process pool and Celery workers (which are only told that there is work)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update

from scorer.qualities import QUALITIES

from ..db.models import Call, now
from ..db.session import session
from ..services.calls import transcript_text
from ..services import webhooks


@dataclass(frozen=True)
class Claim:
    call_id: str
    token: str
    attempt: int


def claim(url: str, call_id: str | None = None) -> Claim | None:
    """Take the oldest queued call (or ``call_id``, if it is queued): None when there is none."""
    with session(url) as s:
        for _ in range(5):  # another worker may take the candidate first: try the next one
            query = select(Call.id).where(Call.status == "QUEUED")
            if call_id:
                query = query.where(Call.id == call_id)
            candidate = s.scalar(query.order_by(Call.created_at).limit(1))
            if candidate is None:
                return None
            token = str(uuid.uuid4())
            taken = s.execute(update(Call).where(Call.id == candidate, Call.status == "QUEUED").values(
                status="IN_PROGRESS", claim_token=token, claimed_at=now(), attempts=Call.attempts + 1))
            if taken.rowcount == 1:
                s.commit()
                return Claim(candidate, token, s.scalar(select(Call.attempts).where(Call.id == candidate)))
        return None


def renew(url: str, held: Claim) -> bool:
    """Extend the lease; False when the claim was lost (the lease ran out and someone else took it)."""
    with session(url) as s:
        return s.execute(update(Call).where(Call.id == held.call_id, Call.claim_token == held.token)
                         .values(claimed_at=now())).rowcount == 1


def complete(url: str, held: Claim, result: dict) -> bool:
    """Store the result, if the claim is still held; the scores are copied out for filters and reports."""
    scores = result.get("scores") or {}
    outcome = result.get("outcome") or {}
    values = {q: (scores.get(q) or {}).get("score") for q in QUALITIES}
    with session(url) as s:
        stored = s.execute(update(Call).where(Call.id == held.call_id, Call.claim_token == held.token,
                                              Call.status == "IN_PROGRESS").values(
            status="COMPLETED", result=result, failure_reason=None, claim_token=None, completed_at=now(),
            outcome=outcome.get("status"), handle_time_ms=result.get("handle_time_ms"),
            transcript_text=transcript_text(result), stage=None, **values)).rowcount == 1
        if stored:
            webhooks.enqueue(s, held.call_id, "COMPLETED")
        return stored


def report_stage(url: str, held: Claim, stage: str) -> None:
    """Say what the worker is doing (shown with IN_PROGRESS), if the claim is still held."""
    with session(url) as s:
        s.execute(update(Call).where(Call.id == held.call_id, Call.claim_token == held.token).values(stage=stage))


def fail(url: str, held: Claim, reason: str, retry: bool, attempts: int) -> str | None:
    """Record a failed attempt: queued again when ``retry`` and attempts remain, else FAILED.
    Returns the new status, or None if the claim was lost."""
    status = "QUEUED" if retry and held.attempt < attempts else "FAILED"
    if status == "FAILED" and retry:
        reason = f"scoring failed {held.attempt} times; the last error: {reason}"
    with session(url) as s:
        changed = s.execute(update(Call).where(Call.id == held.call_id, Call.claim_token == held.token).values(
            status=status, failure_reason=reason, claim_token=None, claimed_at=None,
            completed_at=now() if status == "FAILED" else None)).rowcount
        if changed and status == "FAILED":
            webhooks.enqueue(s, held.call_id, status)
    return status if changed else None


def requeue_expired(url: str, lease_s: float, attempts: int) -> list[tuple[str, str]]:
    """Calls whose worker stopped renewing its lease: queued again, or FAILED after ``attempts``.
    Returns (call id, new status) for each."""
    cutoff = now() - timedelta(seconds=lease_s)
    changed = []
    with session(url) as s:
        stale = s.execute(select(Call.id, Call.attempts).where(Call.status == "IN_PROGRESS", Call.claimed_at < cutoff)).all()
        for call_id, tried in stale:
            status = "FAILED" if tried >= attempts else "QUEUED"
            reason = (f"scoring stopped {tried} times without finishing (the worker was stopped or crashed)"
                      if status == "FAILED" else None)
            if s.execute(update(Call).where(Call.id == call_id, Call.status == "IN_PROGRESS", Call.claimed_at < cutoff)
                         .values(status=status, claim_token=None, claimed_at=None, failure_reason=reason,
                                 completed_at=now() if status == "FAILED" else None)).rowcount:
                changed.append((call_id, status))
                if status == "FAILED":
                    webhooks.enqueue(s, call_id, status)
    return changed


def queued(url: str) -> list[str]:
    """The ids of the calls waiting for a worker, oldest first."""
    with session(url) as s:
        return list(s.scalars(select(Call.id).where(Call.status == "QUEUED").order_by(Call.created_at)))


def depth(url: str) -> dict[str, int]:
    """Calls per status, for /metrics."""
    with session(url) as s:
        return dict(s.execute(select(Call.status, func.count()).group_by(Call.status)).tuples().all())
