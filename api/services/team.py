"""The team page's views of a tenant's scored calls over [since, until): each agent's scores and handle
time week by week, every call as a point (handle time against satisfaction and connection), and the
agents whose short calls are bad calls: what a handle-time target would praise and the hosting
scores do not. The per-agent and per-team tables themselves are services.reports."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scorer.qualities import QUALITIES

from ..db.models import Call
from .reports import mean, posted_between

BAD_SCORE = 50.0  # under the midpoint of 0-100: the call went worse than neutral on that quality
MIN_SHORT_CALLS = 2  # an agent is listed on at least this many short calls, not one unlucky call


def scored_calls(session: Session, tenant_id: str, since: datetime | None, until: datetime | None) -> list[dict]:
    """Every COMPLETED call in the range with a handle time: id, agent, team, when, handle time (s),
    the three scores and the outcome, oldest first."""
    query = (select(Call.id, Call.agent_id, Call.agent_name, Call.team, Call.created_at, Call.started_at,
                    Call.handle_time_ms, Call.outcome, *(getattr(Call, q) for q in QUALITIES))
             .where(Call.tenant_id == tenant_id, Call.status == "COMPLETED", Call.handle_time_ms.is_not(None))
             .order_by(Call.created_at))
    query = posted_between(query, since, until)
    return [{"id": row.id, "agent_id": row.agent_id, "agent_name": row.agent_name, "team": row.team,
             "at": (row.started_at or row.created_at).isoformat(), "handle_time_s": row.handle_time_ms / 1000,
             "outcome": row.outcome, **{q: getattr(row, q) for q in QUALITIES}}
            for row in session.execute(query)]


def weekly(calls: list[dict]) -> dict[str, list[dict]]:
    """Per agent (None: calls without one), per ISO week (its Monday), the calls, mean handle time and
    mean scores, oldest week first."""
    weeks: dict[str | None, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for call in calls:
        day = datetime.fromisoformat(call["at"]).date()
        weeks[call["agent_id"]][(day - timedelta(days=day.weekday())).isoformat()].append(call)
    return {agent: [{"week": week, "calls": len(group), "average_handle_time_s": mean([c["handle_time_s"] for c in group]),
                     **{f"mean_{q}": mean([c[q] for c in group]) for q in QUALITIES}}
                    for week, group in sorted(by_week.items())]
            for agent, by_week in weeks.items()}


def short_bad_agents(calls: list[dict]) -> tuple[float | None, list[dict]]:
    """The tenant's median handle time, and per agent with at least MIN_SHORT_CALLS calls shorter than
    it: how many of those short calls scored under BAD_SCORE on satisfaction or connection, their mean
    scores, and the agent's own average handle time. Agents with the largest share of bad short calls
    first; agents with none are left out."""
    if not calls:
        return None, []
    median = statistics.median(c["handle_time_s"] for c in calls)
    short: dict[str | None, list[dict]] = defaultdict(list)
    for call in calls:
        if call["handle_time_s"] < median:
            short[call["agent_id"]].append(call)
    rows = []
    for agent, group in short.items():
        bad = [c for c in group if any(c[q] is not None and c[q] < BAD_SCORE for q in ("satisfaction", "connection"))]
        if len(group) < MIN_SHORT_CALLS or not bad:
            continue
        own = [c for c in calls if c["agent_id"] == agent]
        rows.append({"agent_id": agent, "agent_name": next((c["agent_name"] for c in reversed(own) if c["agent_name"]), None),
                     "short_calls": len(group), "bad_short_calls": len(bad), "bad_share": round(len(bad) / len(group), 3),
                     "short_mean_satisfaction": mean([c["satisfaction"] for c in group]),
                     "short_mean_connection": mean([c["connection"] for c in group]),
                     "average_handle_time_s": mean([c["handle_time_s"] for c in own]),
                     "worst_call": min(bad, key=lambda c: min(c[q] for q in ("satisfaction", "connection") if c[q] is not None))["id"]})
    return median, sorted(rows, key=lambda r: (-r["bad_share"], -r["bad_short_calls"], str(r["agent_id"])))
