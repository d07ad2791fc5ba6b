"""The scored call: one typed result, serialised to the documented JSON schema."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .characteristics import Characteristics
from .conversation import Turn
from .outcome import Outcome
from .qualities import QualityScore

# 1.1: adds timings and the versions in models (hostscore, heads_sha256, outcome_sha256)
# 1.2: adds the outcome's probability of each status
# 1.3: adds outcome.left_unhelped and the questions the agent asked again (outcome.effort.asked_again)
SCHEMA_VERSION = "1.3"


@dataclass
class CallInfo:
    source: str
    duration_ms: int
    channels: int  # 0 for a text conversation
    sample_rate: int | None  # of the source file
    format: str
    layout: str  # "stereo", "mono" or "text"


@dataclass
class Speakers:
    method: str  # "stereo-channels", "mono-diarization", "single-channel" or "given"
    agent_channel: str | None
    agent_confidence: float
    evidence: list[str] = field(default_factory=list)


@dataclass
class CallResult:
    call: CallInfo
    speakers: Speakers
    turns: list[Turn]
    turn_signals: list[dict]
    characteristics: Characteristics | None
    scores: dict[str, QualityScore | None]
    outcome: Outcome | None
    models: dict
    skipped: dict[str, str]
    id: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage of this call

    @property
    def timed(self) -> bool:
        """False for text given without times: its turn times are only an order."""
        return self.characteristics is None or self.characteristics.timed

    @property
    def handle_time_ms(self) -> int | None:
        if not self.timed:
            return None
        return self.characteristics.handle_time.duration_ms if self.characteristics else self.call.duration_ms

    def to_dict(self) -> dict:
        characteristics = self.characteristics.to_dict() if self.characteristics is not None else None
        turns = []
        for i, turn in enumerate(self.turns):
            row = asdict(turn)
            row["index"] = i
            if not self.timed:
                row["begin_ms"] = row["end_ms"] = None
            if i < len(self.turn_signals):
                row["signals"] = self.turn_signals[i]
            turns.append(row)
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "call": asdict(self.call),
            "speakers": asdict(self.speakers),
            "handle_time_ms": self.handle_time_ms,
            "scores": {q: (asdict(s) if s else None) for q, s in self.scores.items()},
            "outcome": asdict(self.outcome) if self.outcome else None,
            "characteristics": characteristics,
            "turns": turns,
            "models": self.models,
            "skipped": self.skipped,
            "timings": {stage: round(seconds, 3) for stage, seconds in self.timings.items()},
        }
