"""Outcome: resolved on the call, deferred, transferred/escalated or left unresolved, and the
customer's effort (repeats, holds, transfers), each with the turns that show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .characteristics import Characteristics
from .conversation import AGENT, CUSTOMER, Conversation
from .evidence import Moment, moment, span
from .heads import HEADS, Head, TurnSignals

STATUSES = ("resolved", "deferred", "transferred", "unresolved")
OUTCOME_MODEL_PATH = Path(__file__).parent / "data" / "outcome.json"
OUTCOME_THRESHOLD = 0.6  # a turn states an outcome when its head says so with this probability
EVIDENCE_TURNS = 3
REPEAT_SIMILARITY = 0.8  # cosine between two customer turns that say the same thing again
REPEAT_MIN_WORDS = 5  # "yes", "okay" repeated is not the customer repeating themselves
EFFORT_THRESHOLD = 0.6  # the heads are trained class-balanced, so 0.5 over-reports rare cues
HOLD_WORDS = ("hold", "bear with me", "one moment", "just a moment", "give me a minute")
# How much each effort signal adds to the 0-100 effort score; saturates after a few.
EFFORT_POINTS = {"repeat": 20, "hold": 15, "transfer": 25, "effort_statement": 20}


@dataclass
class Effort:
    score: float  # 0 (effortless) .. 100 (exhausting)
    repeats: list[Moment] = field(default_factory=list)
    holds: list[Moment] = field(default_factory=list)
    transfers: list[Moment] = field(default_factory=list)
    effort_statements: list[Moment] = field(default_factory=list)


@dataclass
class Outcome:
    status: str  # one of STATUSES
    confidence: float
    evidence: list[Moment]
    effort: Effort


def call_outcome_features(conversation: Conversation, signals: TurnSignals) -> np.ndarray:
    """What the call-level outcome classifier reads: for each stated outcome, the strongest
    statement by each party, overall and in the last third of the call; how the customer closes."""
    probs = signals.probs["outcome"]
    n = len(conversation.turns)
    speakers = np.array([t.speaker for t in conversation.turns])
    late = np.arange(n) >= (2 * n) // 3
    row = []
    for k in range(1, len(HEADS["outcome"])):
        for mask in (speakers == AGENT, speakers == CUSTOMER, late & (speakers == AGENT), late & (speakers == CUSTOMER)):
            row.append(float(probs[mask, k].max()) if mask.any() else 0.0)
    closing = _customer_turns(conversation)[-2:]
    mood = signals.p("sentiment", "positive") - signals.p("sentiment", "negative")
    row.append(float(signals.p("gratitude", "1")[closing].max()) if closing else 0.0)
    row.append(float(mood[closing].mean()) if closing else 0.0)
    return np.array(row, dtype=np.float32)


def decide(conversation: Conversation, signals: TurnSignals, characteristics: Characteristics | None,
           model: Head) -> Outcome:
    """The call's outcome from the trained call-level classifier (``model``, from OUTCOME_MODEL_PATH)
    over the turn heads; the evidence is the turns that stated it (for unresolved, how the customer left)."""
    p = model.predict_proba(call_outcome_features(conversation, signals)[None, :])[0]
    status = model.classes[int(np.argmax(p))]
    stated = {c: [i for i in range(len(conversation.turns)) if signals.label("outcome", i) == c
                  and signals.probs["outcome"][i, HEADS["outcome"].index(c)] >= OUTCOME_THRESHOLD]
              for c in HEADS["outcome"][1:]}
    # A customer asking for a manager is an escalation request, not a transfer: only the agent can put the call through.
    transfers = [i for i in stated["transfer"] if conversation.turns[i].speaker == AGENT]
    evidence = {"resolved": stated["resolved"], "deferred": stated["deferred"], "transferred": transfers,
                "unresolved": _customer_turns(conversation)[-1:]}[status][-EVIDENCE_TURNS:]
    effort = measure_effort(conversation, signals, characteristics, transfers)
    return Outcome(status, round(float(p.max()), 3), [moment(conversation, i) for i in evidence], effort)


def measure_effort(conversation: Conversation, signals: TurnSignals, characteristics: Characteristics | None,
                   transfer_turns: list[int]) -> Effort:
    customer = _customer_turns(conversation)
    repeats = []
    for k, i in enumerate(customer):
        if len(conversation.turns[i].text.split()) < REPEAT_MIN_WORDS:
            continue
        earlier = [j for j in customer[:k] if len(conversation.turns[j].text.split()) >= REPEAT_MIN_WORDS]
        if earlier and max(float(signals.embeddings[i] @ signals.embeddings[j]) for j in earlier) >= REPEAT_SIMILARITY:
            repeats.append(moment(conversation, i))
    statements = [moment(conversation, i) for i in customer if signals.p("effort", "1")[i] >= EFFORT_THRESHOLD]
    holds = [moment(conversation, i) for i, t in enumerate(conversation.turns)
             if t.speaker == AGENT and any(w in t.text.lower() for w in HOLD_WORDS)]
    if characteristics is not None and "silences" not in characteristics.skipped:
        holds += [span("", s.begin_ms, s.end_ms, f"{s.duration_ms / 1000:.0f} s of silence")
                  for s in characteristics.non_talk.silences if s.position == "between"]
    transfers = [moment(conversation, i) for i in transfer_turns]
    points = (EFFORT_POINTS["repeat"] * len(repeats) + EFFORT_POINTS["hold"] * len(holds)
              + EFFORT_POINTS["transfer"] * len(transfers) + EFFORT_POINTS["effort_statement"] * len(statements))
    return Effort(round(min(100.0, float(points)), 1), repeats, holds, transfers, statements)


def _customer_turns(conversation: Conversation) -> list[int]:
    return [i for i, t in enumerate(conversation.turns) if t.speaker == CUSTOMER]
