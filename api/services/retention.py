"""Retention: calls older than ``HOSTSCORE_RETENTION_DAYS`` are deleted with their recordings, results,
reviews and webhook deliveries, the same as ``DELETE /v1/calls/{id}``, for every tenant."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from ..db.models import Call, now
from ..db.session import session
from . import calls

BATCH = 500


def sweep(url: str, data_dir: Path, days: float) -> int:
    """Delete the calls created more than ``days`` ago (not one a worker is scoring now); returns how many."""
    cutoff = now() - timedelta(days=days)
    deleted = 0
    with session(url) as s:
        while old := s.execute(select(Call.id, Call.tenant_id).where(Call.created_at < cutoff, Call.status != "IN_PROGRESS")
                               .order_by(Call.created_at).limit(BATCH)).all():
            for call_id, tenant_id in old:
                calls.delete(s, data_dir, tenant_id, call_id)
            deleted += len(old)
    return deleted
