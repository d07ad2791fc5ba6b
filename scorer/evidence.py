"""Evidence: the moments (turn, times, quote) behind a score, and why they moved it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .conversation import Conversation

QUOTE_CHARS = 160


@dataclass
class Moment:
    turn: int  # index into the conversation's turns
    speaker: str
    begin_ms: int
    end_ms: int
    quote: str


@dataclass
class Evidence:
    reason: str
    effect: float  # points this moved the 0-100 score (+ raised, - lowered)
    feature: str
    value: float | None
    moments: list[Moment] = field(default_factory=list)


def moment(conversation: Conversation, index: int) -> Moment:
    turn = conversation.turns[index]
    quote = turn.text if len(turn.text) <= QUOTE_CHARS else turn.text[: QUOTE_CHARS - 1] + "…"
    return Moment(index, turn.speaker, turn.begin_ms, turn.end_ms, quote)


def units_moment(conversation: Conversation, indices: list[int]) -> Moment:
    """A moment spanning turns said in one go (fragments joined), quoted as one."""
    first, last = conversation.turns[indices[0]], conversation.turns[indices[-1]]
    text = " ".join(conversation.turns[i].text for i in indices)
    quote = text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"
    return Moment(indices[0], first.speaker, first.begin_ms, max(first.end_ms, last.end_ms), quote)


def span(speaker: str, begin_ms: int, end_ms: int, what: str) -> Moment:
    """A moment that is not a turn: a silence, an overlap."""
    return Moment(-1, speaker, begin_ms, end_ms, what)
