"""Outcome: resolved on the call, deferred, transferred/escalated or left unresolved, and the
customer's effort (repeats, holds, transfers), each with the turns that show it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .characteristics import Characteristics
from .conversation import AGENT, CUSTOMER, Conversation
from .evidence import Moment, moment, span
from .heads import HEADS, TurnSignals

STATUSES = ("resolved", "deferred", "transferred", "unresolved")
OUTCOME_THRESHOLD = 0.5  # a turn states an outcome when its head says so with this probability
RECENCY = (0.5, 1.5)  # vote weight of the first and the last turn
UNDECIDED = 0.5  # pseudo-votes that keep one weak statement from looking certain
STATUS_OF = {"resolved": "resolved", "deferred": "deferred", "transfer": "transferred"}
REPEAT_SIMILARITY = 0.8  # cosine between two customer turns that say the same thing again
REPEAT_MIN_WORDS = 5  # "yes", "okay" repeated is not the customer repeating themselves
EFFORT_THRESHOLD = 0.5
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


def decide(conversation: Conversation, signals: TurnSignals, characteristics: Characteristics | None) -> Outcome:
    """Each turn that states an outcome votes for it, later turns louder: a deferral after an
    attempted fix means the fix did not land, and what is said at the close counts most."""
    probs = signals.probs["outcome"]
    classes = HEADS["outcome"]
    recency = np.linspace(*RECENCY, len(probs)) if len(probs) else np.zeros(0)
    votes = {c: [] for c in classes[1:]}
    for i in range(len(probs)):
        best = 1 + int(np.argmax(probs[i, 1:]))
        # A customer asking for a manager is an escalation request, not a transfer: only the
        # agent can put the call through.
        if probs[i, best] >= OUTCOME_THRESHOLD and not (classes[best] == "transfer" and conversation.turns[i].speaker != AGENT):
            votes[classes[best]].append(i)
    strength = {c: float(sum(recency[i] * probs[i, classes.index(c)] for i in turns)) for c, turns in votes.items()}
    winner = max(strength, key=strength.get)
    status, evidence_turns = STATUS_OF[winner], votes[winner]
    if strength[winner] == 0:
        status, evidence_turns = "unresolved", []
    elif status == "resolved" and _ends_upset(conversation, signals, after=evidence_turns[-1]):
        # the agent said it was fixed, but the customer is still upset: not resolved for them
        evidence_turns = evidence_turns[-1:] + _customer_turns(conversation)[-1:]
        status = "unresolved"
    confidence = (strength[winner] + UNDECIDED) / (sum(strength.values()) + 2 * UNDECIDED)
    effort = measure_effort(conversation, signals, characteristics, votes["transfer"])
    return Outcome(status, round(confidence, 3), [moment(conversation, i) for i in evidence_turns], effort)


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


def _ends_upset(conversation: Conversation, signals: TurnSignals, after: int) -> bool:
    later = [i for i in _customer_turns(conversation) if i > after]
    return bool(later) and signals.p("sentiment", "negative")[later[-1]] > 0.6
