"""A readable summary of a scored call, for the terminal."""

from __future__ import annotations

from .conversation import AGENT, CUSTOMER
from .result import CallResult

EVIDENCE_PER_QUALITY = 3


def clock(ms: int) -> str:
    seconds = max(0, ms) // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def summary(result: CallResult) -> str:
    c = result.call
    lines = [f"{c.source}  ({clock(c.duration_ms)}, {c.layout}, {c.format})"]
    if not result.turns:
        lines.append("no speech found: " + result.skipped.get("speech", "nothing to score"))
        lines += [f"  skipped {k}: {v}" for k, v in result.skipped.items() if k != "speech"]
        return "\n".join(lines)
    lines.append(f"speakers: {result.speakers.method}" + (f", agent found with confidence {result.speakers.agent_confidence:.2f}"
                                                          if result.speakers.method == "mono-diarization" else ""))
    lines.append("")
    for quality, s in result.scores.items():
        lines.append(f"{quality.upper():13s} {s.score:5.1f} / 100   (confidence {s.confidence:.2f})")
        for e in s.evidence[:EVIDENCE_PER_QUALITY]:
            where = ""
            if e.moments:
                m = e.moments[0]
                who = {AGENT: "agent", CUSTOMER: "customer"}.get(m.speaker, "")
                where = f"  [{clock(m.begin_ms)} {who}: \"{m.quote[:70]}\"]"
            lines.append(f"    {e.effect:+5.1f}  {e.reason}{where}")
    o = result.outcome
    lines += ["", f"OUTCOME       {o.status} (confidence {o.confidence:.2f})"]
    if o.evidence:
        m = o.evidence[-1]
        lines.append(f"    [{clock(m.begin_ms)}] \"{m.quote[:90]}\"")
    e = o.effort
    lines.append(f"EFFORT        {e.score:.0f} / 100  (repeats {len(e.repeats)}, asked again {len(e.asked_again)}, holds {len(e.holds)}, "
                 f"transfers {len(e.transfers)}, effort statements {len(e.effort_statements)})")
    ch = result.characteristics
    if "timestamps" not in result.skipped:
        lines.append(f"HANDLE TIME   {clock(result.handle_time_ms)}")
        talk = ch.talk
        lines.append(f"talk share    agent {talk[AGENT].talk_pct:.0f}%  customer {talk[CUSTOMER].talk_pct:.0f}%   "
                     f"non-talk {ch.non_talk.pct:.0f}% ({len(ch.non_talk.silences)} silences over threshold)")
        wpm = " ".join(f"{p.lower()} {talk[p].wpm:.0f}" for p in (AGENT, CUSTOMER) if talk[p].wpm)
        overlap = (f"interruptions: agent {ch.interruptions.counts.get(AGENT, 0)}, customer {ch.interruptions.counts.get(CUSTOMER, 0)}"
                   if ch.interruptions else f"interruptions: {ch.skipped.get('interruptions', 'not measured')}")
        lines.append(f"talk speed    {wpm} wpm   {overlap}")
    if result.skipped:
        lines.append("")
        lines += [f"skipped {k}: {v}" for k, v in result.skipped.items()]
    return "\n".join(lines)
