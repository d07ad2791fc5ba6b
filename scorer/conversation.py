"""Conversation: the call as turns by party, built from word timestamps.

Turns are built from words, not Whisper segments: a segment on one channel can span the other
party's speech, so merging channels by segment times would interleave the parties wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def from_dict(data: dict) -> Conversation:
    """A conversation given as text: ``{"turns": [{"speaker", "text", "begin_ms"?, "end_ms"?}]}``.

    Turns without times are laid out in order at a nominal speaking rate so that order-based
    measures still work; time-based measures are reported as skipped by the caller."""
    turns = []
    clock = 0
    for i, raw in enumerate(data.get("turns") or []):
        speaker = SPEAKER_NAMES.get(str(raw.get("speaker", "")).strip().upper())
        if speaker is None:
            raise ValueError(f"turn {i}: speaker must be AGENT or CUSTOMER, got {raw.get('speaker')!r}")
        text = str(raw.get("text", "")).strip()
        begin = raw.get("begin_ms")
        end = raw.get("end_ms")
        if begin is None or end is None:
            # about 150 words per minute
            begin = clock
            end = clock + max(400, 400 * len(text.split()))
        begin, end = int(begin), int(end)
        if end < begin:
            raise ValueError(f"turn {i}: end_ms {end} is before begin_ms {begin}")
        clock = end
        turns.append(Turn(speaker=speaker, begin_ms=begin, end_ms=end, text=text))
    if not turns:
        raise ValueError("conversation has no turns")
    return Conversation(turns=turns, duration_ms=max(t.end_ms for t in turns), timed=has_times(data))


def has_times(data: dict) -> bool:
    turns = data.get("turns") or []
    return bool(turns) and all(t.get("begin_ms") is not None and t.get("end_ms") is not None for t in turns)
