"""Call-level hosting qualities: connection, energy, satisfaction.

Each quality is a small linear model over named call features (``Feature``), passed through a
logistic to 0-100. A feature's value is standardised against a reference (centre, scale) and
weighted; a feature that cannot be measured on this call (no audio, no timestamps) sits at the
centre and moves nothing. The weights live in a ``Profile``: the shipped one is fitted by
``hostscore train`` on the team's labelled conversations (acoustic weights are set by hand, as no
labelled audio exists); ``hostscore calibrate`` fits one to a centre's own labels.

Evidence is every feature's effect in points: the score with the feature minus the score with it
at its centre, ranked by size, with the turns that produced it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..evidence import Evidence, Moment

if TYPE_CHECKING:  # type names for CallFacts only
    from ..characteristics import Characteristics
    from ..conversation import Conversation
    from ..heads import TurnSignals
    from ..outcome import Outcome

QUALITIES = ("connection", "energy", "satisfaction")
PROFILE_PATH = Path(__file__).resolve().parents[1] / "data" / "profile.json"


@dataclass
class Feature:
    name: str
    value: float | None  # None: not measurable on this call
    raises: str  # reason shown when it raised the score
    lowers: str  # reason shown when it lowered the score
    moments: list[Moment] = field(default_factory=list)  # shown when it raised the score
    lowering_moments: list[Moment] | None = None  # shown when it lowered it; None: the same moments


@dataclass
class QualityModel:
    bias: float
    weights: dict[str, float]
    centres: dict[str, float]
    scales: dict[str, float]
    # P(the score is on the right side of 50) = sigmoid(a + b * |logit|), fitted on held-out
    # predictions; None until a profile has been fitted on labels.
    reliability: list[float] | None = None

    def z(self, name: str, value: float | None) -> float:
        if value is None or name not in self.weights:
            return 0.0
        return (value - self.centres[name]) / self.scales[name]

    def logit(self, values: dict[str, float | None]) -> float:
        return self.bias + sum(self.weights.get(name, 0.0) * self.z(name, v) for name, v in values.items())

    def score(self, values: dict[str, float | None]) -> float:
        return 100 * sigmoid(self.logit(values))


@dataclass
class Profile:
    name: str
    version: int
    models: dict[str, QualityModel]
    metrics: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "metrics": self.metrics,
                "models": {q: m.__dict__ for q, m in self.models.items()}}

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))


def load_profile(path: Path | str | None = None) -> Profile:
    path = Path(path or PROFILE_PATH)
    if not path.exists():
        raise FileNotFoundError(f"scoring profile {path} is missing: run `hostscore train` to build it")
    data = json.loads(path.read_text())
    models = {q: QualityModel(**m) for q, m in data["models"].items()}
    return Profile(data.get("name", path.stem), int(data.get("version", 1)), models, data.get("metrics", {}))


@dataclass
class QualityScore:
    score: float  # 0-100
    confidence: float  # 0-1
    evidence: list[Evidence]
    features: dict[str, float | None]  # every feature's value, for calibration


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, x))))


def score_quality(model: QualityModel, features: list[Feature], max_evidence: int = 8) -> QualityScore:
    values = {f.name: (None if f.value is None else round(f.value, 4)) for f in features}
    logit = model.logit(values)
    score = 100 * sigmoid(logit)
    evidence = []
    for f in features:
        contribution = model.weights.get(f.name, 0.0) * model.z(f.name, f.value)
        effect = score - 100 * sigmoid(logit - contribution)
        if f.value is None or abs(effect) < 0.5:
            continue
        moments = f.moments if effect > 0 or f.lowering_moments is None else f.lowering_moments
        evidence.append(Evidence(f.raises if effect > 0 else f.lowers, round(effect, 1), f.name, round(f.value, 3), moments))
    evidence.sort(key=lambda e: abs(e.effect), reverse=True)
    return QualityScore(round(score, 1), confidence(model, features, logit), evidence[:max_evidence], values)


def confidence(model: QualityModel, features: list[Feature], logit: float) -> float:
    """The chance the score is on the right side of 50 (from held-out predictions when the profile
    was fitted), scaled by the share of the model's weight that could be measured on this call."""
    total = sum(abs(w) for w in model.weights.values()) or 1.0
    measured = sum(abs(model.weights.get(f.name, 0.0)) for f in features if f.value is not None)
    if model.reliability:
        a, b = model.reliability
        right_side = sigmoid(a + b * abs(logit))
    else:
        right_side = sigmoid(abs(logit))
    return round((measured / total) * right_side, 3)


@dataclass
class CallFacts:
    """Everything a quality reads: the turns, what the heads said about each, the measured
    characteristics, and the outcome."""

    conversation: Conversation
    signals: TurnSignals
    characteristics: Characteristics
    outcome: Outcome

    def indices(self, speaker: str) -> list[int]:
        return [i for i, t in enumerate(self.conversation.turns) if t.speaker == speaker]

    def measured(self, key: str) -> bool:
        return key not in self.characteristics.skipped

    def reply_to(self, i: int) -> int | None:
        """The agent turn answering customer turn ``i``: the next turn, if the agent's."""
        turns = self.conversation.turns
        return i + 1 if i + 1 < len(turns) and turns[i + 1].speaker != turns[i].speaker else None
