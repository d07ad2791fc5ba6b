"""Reports: per agent or per team over a date range, the scored calls, average handle time, mean
scores, how often the call ended resolved or deferred, and how strongly handle time agrees with each
score (Spearman). The machine's scores and outcome: a reviewer's overrides are not used."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from datetime import datetime, timezone

from scipy.stats import spearmanr
from sqlalchemy import select
from sqlalchemy.orm import Session

from scorer.qualities import QUALITIES

from ..db.models import Call

MIN_CALLS_FOR_CORRELATION = 3
GROUPS = {"agents": "agent_id", "teams": "team"}  # what a row is per


def report(session: Session, tenant_id: str, by: str, since: datetime | None, until: datetime | None) -> list[dict]:
    """One row per agent (``by="agents"``) or team (``"teams"``) with a COMPLETED call posted in
    [since, until), most calls first (the fields of schemas.AgentRow or TeamRow)."""
    key = getattr(Call, GROUPS[by])
    query = (select(key, Call.agent_name, Call.handle_time_ms, Call.outcome, *(getattr(Call, q) for q in QUALITIES))
             .where(Call.tenant_id == tenant_id, Call.status == "COMPLETED").order_by(Call.created_at))
    query = posted_between(query, since, until)
    groups: dict[str | None, list] = defaultdict(list)
    for row in session.execute(query):
        groups[row[0]].append(row)
    rows = [_row(by, name, calls) for name, calls in groups.items()]
    return sorted(rows, key=lambda r: (-r["calls"], str(r[GROUPS[by]])))


def posted_between(query, since: datetime | None, until: datetime | None):
    """``query`` of calls narrowed to those posted in [since, until), either end open when None."""
    if since:
        query = query.where(Call.created_at >= _utc(since))
    if until:
        query = query.where(Call.created_at < _utc(until))
    return query


def _utc(moment: datetime) -> datetime:
    """Times are stored in UTC: one given with an offset is converted, one without is taken as UTC."""
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def to_csv(columns: list[str], rows: list[dict]) -> str:
    """The rows as CSV under a header of ``columns``; a missing value is an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def _row(by: str, name: str | None, calls: list) -> dict:
    handle = [c.handle_time_ms / 1000 if c.handle_time_ms is not None else None for c in calls]
    outcomes = [c.outcome for c in calls if c.outcome is not None]
    row = {GROUPS[by]: name}
    if by == "agents":  # the name the agent's latest call gave
        row["agent_name"] = next((c.agent_name for c in reversed(calls) if c.agent_name), None)
    row |= {"calls": len(calls), "average_handle_time_s": mean(handle)}
    row |= {f"mean_{q}": mean([getattr(c, q) for c in calls]) for q in QUALITIES}
    row |= {"resolution_rate": _share(outcomes, "resolved"), "deferral_rate": _share(outcomes, "deferred")}
    row |= {f"handle_time_spearman_{q}": _spearman(handle, [getattr(c, q) for c in calls]) for q in QUALITIES}
    return row


def mean(values: list) -> float | None:
    """The mean of the values present (None left out), to 3 places; None when there are none."""
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 3) if present else None


def _share(outcomes: list[str], status: str) -> float | None:
    return round(outcomes.count(status) / len(outcomes), 4) if outcomes else None


def _spearman(xs: list, ys: list) -> float | None:
    """Rank correlation over the calls that have both; None under 3 such calls or when either is constant."""
    pairs = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
    if len(pairs) < MIN_CALLS_FOR_CORRELATION or len({x for x, _ in pairs}) < 2 or len({y for _, y in pairs}) < 2:
        return None
    rho = spearmanr([x for x, _ in pairs], [y for _, y in pairs]).statistic
    return None if math.isnan(rho) else round(float(rho), 4)
