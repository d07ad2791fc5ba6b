"""What the coaching pages read beyond a call list: the live queue of a tenant's calls, and the
overrides in force on a call after its reviews. No HTTP here; the pages render what these return."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..db.models import Call, Review, now

RECENTLY_FINISHED = timedelta(minutes=30)  # finished calls stay in the queue this long, so an upload is seen through
QUEUE_ROWS = 50


def queue(session: Session, tenant_id: str) -> list[Call]:
    """The calls waiting or being scored, and those finished in the last half hour, newest first."""
    recent = now() - RECENTLY_FINISHED
    return list(session.scalars(
        select(Call).where(Call.tenant_id == tenant_id,
                           or_(Call.status.in_(("QUEUED", "IN_PROGRESS")), Call.updated_at >= recent))
        .order_by(Call.created_at.desc(), Call.id.desc()).limit(QUEUE_ROWS)))


def overrides_in_force(reviews: list[Review]) -> dict[str, dict]:
    """Per overridden score or outcome, the latest review's value with who set it and when, and the
    machine's value beside it. ``reviews`` oldest first, as services.calls.reviews gives them."""
    latest: dict[str, dict] = {}
    for review in reviews:
        for name, value in review.overrides.items():
            latest[name] = {"value": value, "machine": review.machine.get(name), "author": review.author,
                            "at": review.created_at}
    return latest
