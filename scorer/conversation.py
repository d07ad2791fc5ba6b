"""Conversation: the call as turns by party, built from word timestamps.

Turns are built from words, not Whisper segments: a segment on one channel can span the other
party's speech, so merging channels by segment times would interleave the parties wrongly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .settings import settings

AGENT = "AGENT"
CUSTOMER = "CUSTOMER"
PARTIES = (AGENT, CUSTOMER)
# What platforms and dialogue data sets call the two parties.
SPEAKER_NAMES = {
    **dict.fromkeys(("AGENT", "REP", "REPRESENTATIVE", "OPERATOR", "SUPPORT", "ASSISTANT", "SYSTEM", "HOST"), AGENT),
    **dict.fromkeys(("CUSTOMER", "CALLER", "CLIENT", "USER", "GUEST"), CUSTOMER),
}

# A pause longer than this inside one party's speech starts a new turn, even if nobody else spoke.
TURN_GAP_MS = 2000


@dataclass
class Word:
    text: str
    begin_ms: int
    end_ms: int
    probability: float = 1.0


@dataclass
class Turn:
    speaker: str
    begin_ms: int
    end_ms: int
    text: str
    words: list[Word] = field(default_factory=list)

    @property
    def duration_ms(self) -> int:
        return max(0, self.end_ms - self.begin_ms)


@dataclass
class Conversation:
    turns: list[Turn]
    duration_ms: int
    # False for text given without begin_ms/end_ms: turn times are then only an order, and every
    # time-based measure is skipped rather than invented.
    timed: bool = True


def join_words(words: list[Word]) -> str:
    """Whisper words carry their own leading space; strip the ends only."""
    return "".join(w.text for w in words).strip()


def build_turns(labelled_words: list[tuple[str, Word]], gap_ms: int = TURN_GAP_MS) -> list[Turn]:
    """Group time-ordered (speaker, word) pairs into turns: a turn ends when the other party speaks
    or the same party pauses longer than ``gap_ms``."""
    ordered = sorted(labelled_words, key=lambda sw: (sw[1].begin_ms, sw[1].end_ms))
    turns: list[Turn] = []
    current: list[Word] = []
    speaker = None
    for who, word in ordered:
        if current and (who != speaker or word.begin_ms - current[-1].end_ms > gap_ms):
            turns.append(_turn(speaker, current))
            current = []
        speaker = who
        current.append(word)
    if current:
        turns.append(_turn(speaker, current))
    return [t for t in turns if t.text]


def _turn(speaker: str, words: list[Word]) -> Turn:
    return Turn(
        speaker=speaker,
        begin_ms=words[0].begin_ms,
        end_ms=max(w.end_ms for w in words),
        text=join_words(words),
        words=list(words),
    )


# Bounds on text input: the turn heads' cost grows with turn length, and a call is at most a few
# hours of speech (about 40,000 words in 4 hours). Longer input is refused, not worked on for minutes.
MAX_TURN_CHARS = 20_000
MAX_CALL_CHARS = 500_000
MAX_TURNS = 20_000
INPUT_FIELDS = {"id", "source", "turns", "speaker", "text", "begin_ms", "end_ms"}


class TurnInput(BaseModel):
    """One turn as given: extra fields (a platform's own ids, sentiment) are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)
    speaker: str
    text: str = Field(max_length=MAX_TURN_CHARS)
    begin_ms: float | None = None
    end_ms: float | None = None

    @field_validator("speaker")
    @classmethod
    def _known_speaker(cls, name: str) -> str:
        party = SPEAKER_NAMES.get(name.strip().upper())
        if party is None:
            raise ValueError(f"must be AGENT or CUSTOMER (or caller, user, rep, ...), got {name!r}")
        return party

    @field_validator("text")
    @classmethod
    def _has_text(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("is empty")
        return text.strip()

    @field_validator("begin_ms", "end_ms")
    @classmethod
    def _a_time_in_the_call(cls, ms, info):
        if ms is None:
            return None
        limit = settings().max_call_s * 1000
        if not math.isfinite(ms) or not 0 <= ms <= limit:
            raise ValueError(f"must be milliseconds from 0 to {limit:.0f} (the longest call allowed,"
                             f" HOSTSCORE_MAX_CALL_MINUTES), got {ms!r}")
        return int(round(ms))

    @model_validator(mode="after")
    def _ends_after_it_begins(self):
        if (self.begin_ms is None) != (self.end_ms is None):
            raise ValueError("give both begin_ms and end_ms, or neither")
        if self.begin_ms is not None and self.end_ms < self.begin_ms:
            raise ValueError(f"end_ms {self.end_ms} is before begin_ms {self.begin_ms}")
        return self


class ConversationInput(BaseModel):
    """``{"id"?, "source"?, "turns": [...]}``, the text conversation hostscore scores."""

    model_config = ConfigDict(extra="ignore", strict=True)
    id: str | int | None = None
    source: str | None = None
    turns: list[TurnInput] = Field(min_length=1, max_length=MAX_TURNS)

    @model_validator(mode="after")
    def _bounded_and_consistently_timed(self):
        if sum(len(t.text) for t in self.turns) > MAX_CALL_CHARS:
            raise ValueError(f"the conversation has more than {MAX_CALL_CHARS:,} characters of text: more than a call holds")
        timed = [t.begin_ms is not None for t in self.turns]
        if any(timed) and not all(timed):
            raise ValueError(f"turns[{timed.index(False)}] has no begin_ms/end_ms while other turns do:"
                             " give times for every turn or for none")
        return self


def validate(data) -> ConversationInput:
    """Check a conversation given as JSON data; ``ValueError`` names the turn and field at fault."""
    try:
        return ConversationInput.model_validate(data)
    except ValidationError as e:
        raise ValueError(describe(e)) from None


def describe(error: ValidationError) -> str:
    """The first problem in words: ``turns[3].text: must be text, got a number``."""
    problem = error.errors()[0]
    # pydantic adds the tried type to the place of a union field ("id.str"): leave it out
    loc = [p for p in problem["loc"] if isinstance(p, int) or p in INPUT_FIELDS]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    got = _json_type(problem.get("input"))
    kind = problem["type"]
    if kind == "missing":
        message = "is missing"
    elif kind == "model_type" or kind == "model_attributes_type":
        message = f"must be an object, got {got}" if where else f"the conversation must be a JSON object with \"turns\", got {got}"
    elif loc == ["id"]:
        message = f"must be text or a number, got {got}"
    elif kind == "string_type":
        message = f"must be text, got {got}"
    elif kind == "list_type":
        message = f"must be a list of turns, got {got}"
    elif kind == "too_short" and where == "turns":
        message = "is empty: the conversation has no turns"
    elif kind in ("too_long", "string_too_long"):
        message = f"is too long ({problem['msg'].lower()})"
    elif loc and loc[-1] in ("begin_ms", "end_ms") and kind.endswith("_type"):
        message = f"must be a number of milliseconds, got {got}"
    else:
        message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _json_type(value) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "true/false"), (str, "text"), ((int, float), "a number"), (list, "a list"), (dict, "an object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def from_dict(data) -> Conversation:
    """A conversation given as text: ``{"turns": [{"speaker", "text", "begin_ms"?, "end_ms"?}]}``,
    checked first (``ValueError`` naming the turn and field).

    Turns without times are laid out in order at a nominal speaking rate so that order-based
    measures still work; time-based measures are reported as skipped by the caller."""
    given = validate(data)
    turns = []
    clock = 0
    for raw in given.turns:
        begin, end = raw.begin_ms, raw.end_ms
        if begin is None:
            # about 150 words per minute
            begin, end = clock, clock + max(400, 400 * len(raw.text.split()))
        clock = end
        turns.append(Turn(speaker=raw.speaker, begin_ms=begin, end_ms=end, text=raw.text))
    timed = given.turns[0].begin_ms is not None
    return Conversation(turns=turns, duration_ms=max(t.end_ms for t in turns), timed=timed)


def has_times(data) -> bool:
    """Whether a conversation (checked by ``from_dict``) gives turn times."""
    turns = data.get("turns") if isinstance(data, dict) else None
    return bool(turns) and all(isinstance(t, dict) and t.get("begin_ms") is not None and t.get("end_ms") is not None
                               for t in turns)
