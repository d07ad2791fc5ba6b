"""Reports against a real `hostscore serve`: per agent and team, the numbers are those of the calls'
own results (counts, means, rates, Spearman of handle time with each score, null under 3 calls), the
date range selects by posting time, CSV matches JSON, only supervisors and admins may read them, and a
tenant sees only its own calls."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timezone

import httpx
import numpy as np
import pytest
from scipy.stats import rankdata

QUALITIES = ("connection", "energy", "satisfaction")
RESOLVED = [("CUSTOMER", "Hi, my card was charged twice for the same order."),
            ("AGENT", "I'm sorry about that. I can see both charges and I've refunded the second one now."),
            ("CUSTOMER", "Great, thank you so much, that's sorted then.")]
DEFERRED = [("CUSTOMER", "My internet keeps dropping every evening and I'm fed up."),
            ("AGENT", "I understand. I'll need to pass this to our engineers and they'll call you back within 48 hours."),
            ("CUSTOMER", "Okay, I suppose I'll wait for their call then.")]
ANGRY = [("CUSTOMER", "This is the third time I've called and nobody has fixed anything!"),
         ("AGENT", "Let me look. Hmm. I don't know, it's not something I can do."),
         ("CUSTOMER", "Unbelievable. This is useless, I'm cancelling.")]
# (agent, team, script, gap between turns in ms: handle times differ call by call)
ACME = [("a1", "north", RESOLVED, 300), ("a1", "north", DEFERRED, 2500), ("a1", "north", ANGRY, 6000),
        ("a1", "north", RESOLVED, 9000), ("a2", "north", DEFERRED, 800), ("a2", "north", RESOLVED, 4000),
        ("a3", "south", ANGRY, 1200), (None, None, RESOLVED, 500)]


def conversation(script, gap_ms: int) -> dict:
    turns, at = [], 0
    for speaker, text in script:
        length = 70 * len(text)
        turns.append({"speaker": speaker, "text": text, "begin_ms": at, "end_ms": at + length})
        at += length + gap_ms
    return {"turns": turns}


def post(service, agent, team, script, gap_ms, tenant="acme") -> str:
    params = {k: v for k, v in (("agent_id", agent), ("team", team)) if v}
    answer = httpx.post(f"{service.url}/v1/transcripts", json=conversation(script, gap_ms), params=params,
                        headers=service.headers("platform", tenant), timeout=30)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def spearman(xs, ys):
    """Pearson correlation of average ranks."""
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return float(np.corrcoef(rankdata(xs), rankdata(ys))[0, 1])


def expected(calls: list[dict], key: str) -> dict:
    rows = {}
    for value in {c[key] for c in calls}:
        group = [c for c in calls if c[key] == value]
        handle = [c["handle_time_ms"] / 1000 for c in group]
        outcomes = [c["outcome"] for c in group]
        rows[value] = {"calls": len(group), "average_handle_time_s": np.mean(handle),
                       "resolution_rate": outcomes.count("resolved") / len(group),
                       "deferral_rate": outcomes.count("deferred") / len(group),
                       **{f"mean_{q}": np.mean([c[q] for c in group]) for q in QUALITIES},
                       **{f"handle_time_spearman_{q}": spearman(handle, [c[q] for c in group]) for q in QUALITIES}}
    return rows


def close(got: dict, want: dict) -> None:
    for name, value in want.items():
        if value is None:
            assert got[name] is None, name
        else:
            assert got[name] == pytest.approx(value, abs=2e-3), name


@pytest.fixture(scope="module")
def scored(service):
    """acme's calls (and one of globex's, agent a1 too), scored; and the moment between two batches."""
    ids = [post(service, *spec) for spec in ACME[:4]]
    calls = [service.wait_for(i) for i in ids]
    time.sleep(0.05)
    between = datetime.now(timezone.utc)
    time.sleep(0.05)
    ids = [post(service, *spec) for spec in ACME[4:]]
    later = [service.wait_for(i) for i in ids]
    theirs = post(service, "a1", "north", RESOLVED, 700, tenant="globex")
    while httpx.get(f"{service.url}/v1/calls/{theirs}", headers=service.headers("platform", "globex"),
                    timeout=30).json()["status"] not in ("COMPLETED", "FAILED"):
        time.sleep(0.3)
    assert all(c["status"] == "COMPLETED" and c["handle_time_ms"] for c in calls + later)
    return calls, later, between


def report(service, by: str, role: str = "supervisor", tenant: str = "acme", **params) -> httpx.Response:
    return httpx.get(f"{service.url}/v1/reports/{by}", params=params, headers=service.headers(role, tenant), timeout=30)


def test_per_agent_the_numbers_are_the_calls_own(service, scored):
    calls = scored[0] + scored[1]
    answer = report(service, "agents")
    assert answer.status_code == 200, answer.text
    rows = {r["agent_id"]: r for r in answer.json()["agents"]}
    want = expected(calls, "agent_id")
    assert set(rows) == set(want) == {"a1", "a2", "a3", None}
    for agent, values in want.items():
        close(rows[agent], values)
    assert [r["calls"] for r in answer.json()["agents"]][:2] == [4, 2]  # most calls first
    assert rows["a1"]["handle_time_spearman_connection"] is not None  # 4 calls with distinct handle times
    assert all(rows["a2"][f"handle_time_spearman_{q}"] is None for q in QUALITIES)  # 2 calls: too few


def test_per_team_and_the_date_range(service, scored):
    early, later, between = scored
    rows = {r["team"]: r for r in report(service, "teams").json()["teams"]}
    for team, values in expected(early + later, "team").items():
        close(rows[team], values)
    since = report(service, "teams", since=between.isoformat()).json()
    assert {r["team"]: r["calls"] for r in since["teams"]} == {"north": 2, "south": 1, None: 1}
    until = report(service, "agents", until=between.isoformat()).json()["agents"]
    assert [(r["agent_id"], r["calls"]) for r in until] == [("a1", 4)]
    close(until[0], expected(early, "agent_id")["a1"])
    assert report(service, "agents", since="2999-01-01T00:00:00Z").json()["agents"] == []


def test_csv_has_the_same_rows(service, scored):
    data = report(service, "agents").json()["agents"]
    for answer in (report(service, "agents", format="csv"),
                   httpx.get(f"{service.url}/v1/reports/agents", timeout=30,
                             headers={**service.headers("supervisor"), "Accept": "text/csv"})):
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(answer.text)))
        assert list(table[0])[:3] == ["agent_id", "agent_name", "calls"]
        assert len(table) == len(data)
        for row, want in zip(table, data):
            assert set(row) == set(want)
            for name, value in want.items():
                assert row[name] == ("" if value is None else str(value)), name
    empty = report(service, "teams", format="csv", since="2999-01-01T00:00:00Z").text
    assert empty.splitlines()[0].startswith("team,calls,average_handle_time_s") and len(empty.splitlines()) == 1


def test_who_may_read_reports(service, scored):
    assert report(service, "agents", role="admin").status_code == 200
    assert report(service, "teams", role="platform").status_code == 403
    assert httpx.get(f"{service.url}/v1/reports/agents", timeout=30).status_code == 401


def test_a_tenant_sees_only_its_own_calls(service, scored):
    theirs = report(service, "agents", tenant="globex").json()["agents"]
    assert [(r["agent_id"], r["calls"]) for r in theirs] == [("a1", 1)]
    ours = {r["agent_id"]: r["calls"] for r in report(service, "agents").json()["agents"]}
    assert ours["a1"] == 4
    assert report(service, "teams", tenant="nobody").json()["teams"] == []
