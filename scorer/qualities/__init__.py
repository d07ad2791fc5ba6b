"""Call-level hosting qualities: connection, energy, satisfaction.

Each quality is a small linear model over named call features (``Feature``), passed through a
logistic to 0-100. A feature's value is standardised against a reference (centre, scale) and
weighted; a feature that cannot be measured on this call (no audio, no timestamps) sits at the
centre and moves nothing. The weights live in a ``Profile``: the shipped one is fitted by
``hostscore train`` on the team's labelled conversations (acoustic weights are set by hand, as no
labelled audio exists); ``hostscore calibrate`` fits one to a centre's own labels.

Every feature is defined once, in its quality's module (``SPECS``: name, direction, prior weight,
centre and scale, plain-language reasons); the hand-set profile is built from those definitions,
and a profile that names a feature the code does not compute, or misses one it does, is refused.

Features are rates, shares or robust statistics over *units*: a party's fragments (Whisper and
diarization split speech at short pauses and around the other party's "mm-hmm") joined into what
was said in one go. A one-word fragment weighs little; an agent's reply is read with the customer
unit it answers. Nothing is a maximum or a count over the whole call, so scores do not drift with
call length.

Evidence is every feature's effect in points: the score with the feature minus the score with it
at its neutral value (its centre unless the definition names one), ranked by size, with the
moments that produced it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..audio import check_file
from ..conversation import AGENT, CUSTOMER, _json_type
from ..evidence import Evidence, Moment, units_moment

if TYPE_CHECKING:  # type names for CallFacts only
    from ..characteristics import Characteristics
    from ..conversation import Conversation
    from ..heads import TurnSignals
    from ..outcome import Outcome

QUALITIES = ("connection", "energy", "satisfaction")
PROFILE_PATH = Path(__file__).resolve().parents[1] / "data" / "profile.json"


@dataclass(frozen=True)
class FeatureSpec:
    """A feature's definition: the one place its name, direction, prior and reasons live."""

    name: str
    sign: int  # +1: can only raise its quality; -1: can only lower it
    prior: float  # size of its weight in the hand-set definition
    # A typical value, and the scale of a notable difference from it. For a measure text cannot give
    # (dead air, interruptions), the value of a call where nothing happened: a conversation scored as text
    # then scores as the same call spoken without incident.
    centre: float
    scale: float
    raises: str  # reason shown when it raised the score
    lowers: str  # reason shown when it lowered the score
    measures: str  # what it measures, in plain words (docs/qualities.md)
    neutral: float | None = None  # the value that says nothing either way, where one exists
    # Reason shown when it lowered the score and no moment shows the behaviour ``lowers`` names: the call
    # was below the typical one, and nothing in it was, say, rude. "" where ``lowers`` claims no behaviour.
    lowers_unshown: str = ""


@dataclass
class Feature:
    name: str
    value: float | None  # None: not measurable on this call
    raises: str = ""  # reason shown when it raised the score; "" for the definition's
    lowers: str = ""  # reason shown when it lowered the score; "" for the definition's
    moments: list[Moment] = field(default_factory=list)  # shown when it raised the score
    lowering_moments: list[Moment] | None = None  # shown when it lowered it; None: the same moments


def registry() -> dict[str, dict[str, FeatureSpec]]:
    """quality -> feature name -> definition, from each quality's module."""
    from . import connection, energy, satisfaction

    return {q: {spec.name: spec for spec in module.SPECS}
            for q, module in (("connection", connection), ("energy", energy), ("satisfaction", satisfaction))}


def spec_of(name: str) -> FeatureSpec:
    for specs in registry().values():
        if name in specs:
            return specs[name]
    raise KeyError(f"unknown feature {name!r}: not defined by any quality")


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
        if name not in self.weights:
            raise KeyError(f"feature {name!r} has no weight in this profile: retrain or recalibrate it")
        if value is None:
            return 0.0
        return (value - self.centres[name]) / self.scales[name]

    def logit(self, values: dict[str, float | None]) -> float:
        return self.bias + sum(self.weights[name] * self.z(name, v) for name, v in values.items())

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


class ProfileError(ValueError):
    """A scoring profile file that cannot be used, with the file and the problem in one line."""


Number = Annotated[float, Field(allow_inf_nan=False)]


class QualityModelInput(BaseModel):
    """One quality's model as a profile file gives it (``QualityModel``'s fields)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    bias: Number
    weights: dict[str, Number]
    centres: dict[str, Number]
    scales: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]]  # a divisor
    reliability: Annotated[list[Number], Field(min_length=2, max_length=2)] | None = None


class ProfileInput(BaseModel):
    """A profile file: ``{"name", "version", "metrics", "models": {quality: {...}}}``."""

    model_config = ConfigDict(extra="ignore", strict=True)
    name: str | None = None
    version: int = 1
    metrics: dict = {}
    models: dict[str, QualityModelInput]


PROFILE_SHAPE = '{"name", "version", "models": {quality: {"bias", "weights", "centres", "scales"}}}'


def load_profile(path: Path | str | None = None, qualities: tuple[str, ...] = QUALITIES) -> Profile:
    """The scoring profile at ``path`` (default: the shipped one). A file of the wrong shape, not
    JSON or not UTF-8 (a byte-order mark is fine), or whose ``qualities`` do not weigh the features the
    code computes, raises ``ProfileError`` naming it and the problem."""
    path = Path(path or PROFILE_PATH)
    if path == PROFILE_PATH and not path.exists():
        raise FileNotFoundError(f"scoring profile {path} is missing: run `hostscore train` to build it")
    check_file(path, ProfileError)  # also refuses what is not a file: a pipe would block
    problem = f"{path}: not a scoring profile from `hostscore calibrate`"
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
        given = ProfileInput.model_validate(data)
    except UnicodeDecodeError as e:
        raise ProfileError(f"{problem} (not UTF-8 text: byte 0x{e.object[e.start]:02x} at position {e.start + 1})") from None
    except json.JSONDecodeError as e:
        raise ProfileError(f"{problem} (not valid JSON: {e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise ProfileError(f"{problem} (JSON nested too deeply)") from None
    except ValidationError as e:
        raise ProfileError(f"{problem} ({_describe(e)})") from None
    except ValueError:  # Python's limit on the digits of an integer in JSON
        raise ProfileError(f"{problem} (a number too long to read)") from None
    models = {q: QualityModel(**m.model_dump()) for q, m in given.models.items()}
    check_profile(models, path, qualities)
    return Profile(given.name or path.stem, given.version, models, given.metrics)


def _describe(error: ValidationError) -> str:
    """The first problem of a profile in words: ``models.energy.scales.pace: must be above 0, got -1``."""
    problem = error.errors()[0]
    where = ".".join(str(p) for p in problem["loc"])
    got = _json_type(problem.get("input"))
    kind = problem["type"]
    if not where:
        return f"expected a JSON object {PROFILE_SHAPE}, got {got}"
    if kind == "missing":
        message = "is missing"
    elif kind in ("dict_type", "model_type"):
        message = f"must be an object, got {got}"
    elif kind == "extra_forbidden":
        message = "is not part of a quality model (bias, weights, centres, scales, reliability)"
    elif kind in ("float_type", "int_type"):
        message = f"must be a {'whole ' if kind == 'int_type' else ''}number, got {got}"
    elif kind == "finite_number":
        message = f"must be a finite number, got {problem['input']!r}"
    elif kind == "greater_than":
        message = f"must be above 0, got {problem['input']!r}"
    else:
        message = problem["msg"][:1].lower() + problem["msg"][1:]
    return f"{where}: {message}"


def check_profile(models: dict[str, QualityModel], source: Path | str = "profile",
                  qualities: tuple[str, ...] = QUALITIES) -> None:
    """A profile must weigh exactly the features the code computes: an unknown name would be a
    silent weight of 0, a missing one a feature that can never count."""
    specs = registry()
    problems = []
    for q in qualities:
        if q not in models:
            problems.append(f"no model for {q}")
            continue
        for part in ("weights", "centres", "scales"):
            names = set(getattr(models[q], part))
            if unknown := sorted(names - set(specs[q])):
                problems.append(f"{q}.{part} names unknown features {unknown}")
            if missing := sorted(set(specs[q]) - names):
                problems.append(f"{q}.{part} lacks {missing}")
    if problems:
        raise ProfileError(f"{source}: does not match the features the code computes: {'; '.join(problems)}")


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
        if f.value is None:
            continue
        spec = spec_of(f.name)
        reference = model.centres[f.name] if spec.neutral is None else spec.neutral
        contribution = model.weights[f.name] * (model.z(f.name, f.value) - model.z(f.name, reference))
        effect = score - 100 * sigmoid(logit - contribution)
        if abs(effect) < 0.5:
            continue
        moments = f.moments if effect > 0 or f.lowering_moments is None else f.lowering_moments
        if effect > 0:
            reason = f.raises or spec.raises
        else:
            # "curt or rude" only with a curt or rude moment to show for it
            reason = f.lowers or (spec.lowers_unshown if not moments and spec.lowers_unshown else spec.lowers)
        evidence.append(Evidence(reason, round(effect, 1), f.name, round(f.value, 3), moments))
    evidence.sort(key=lambda e: abs(e.effect), reverse=True)
    return QualityScore(round(score, 1), confidence(model, features, logit), evidence[:max_evidence], values)


def confidence(model: QualityModel, features: list[Feature], logit: float) -> float:
    """The chance the score is on the right side of 50 (from held-out predictions when the profile
    was fitted), scaled by the share of the model's weight that could be measured on this call."""
    total = sum(abs(w) for w in model.weights.values()) or 1.0
    measured = sum(abs(model.weights[f.name]) for f in features if f.value is not None)
    if model.reliability:
        a, b = model.reliability
        right_side = sigmoid(a + b * abs(logit))
    else:
        right_side = sigmoid(abs(logit))
    return round((measured / total) * right_side, 3)


# A party's speech split by a pause shorter than this (or only by the other party's backchannel)
# is one unit: Whisper and diarization cut a sentence at breaths.
JOIN_GAP_MS = 1500
# What the other party says while a unit goes on that is listening, not taking the floor.
BACKCHANNEL = re.compile(r"^(?:(?:mm+-?hmm|mhm|uh-huh|uh|um|hmm|mm|okay|ok|yeah|yes|yep|yup|right|sure|alright|"
                         r"got it|i see|oh)[\s,.!?]*){1,3}$", re.IGNORECASE)
# A unit shorter than this many words weighs words/FULL_WEIGHT_WORDS in per-unit averages: "Got" or
# "OK." says too little to carry a full judgement.
FULL_WEIGHT_WORDS = 6


@dataclass
class Unit:
    """What one party said in one go: one or more turns joined."""

    speaker: str
    turns: list[int]  # indices into the conversation's turns
    text: str
    backchannel: bool = False  # a short "mm-hmm" over the other party's unit

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def weight(self) -> float:
        return min(1.0, self.words / FULL_WEIGHT_WORDS)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = float(weights.sum())
    return float((values * weights).sum() / total) if total > 0 else float(values.mean())


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The value below which a share ``q`` of the weight lies."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    if cumulative[-1] <= 0:
        return float(np.quantile(values, q))
    return float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])


def is_backchannel(text: str) -> bool:
    return bool(BACKCHANNEL.match(text.strip()))


def build_units(conversation: Conversation) -> list[Unit]:
    """Join each party's fragments into units. A turn continues its party's last unit when nothing
    but a pause shorter than JOIN_GAP_MS, or the other party's backchannel, lies between them."""
    turns = conversation.turns
    units: list[Unit] = []
    open_unit: dict[str, int] = {}  # party -> its unit that can still be continued
    for i, turn in enumerate(turns):
        k = open_unit.get(turn.speaker)
        if k is not None and turn.begin_ms - turns[units[k].turns[-1]].end_ms <= JOIN_GAP_MS and (
                k == len(units) - 1 or (conversation.timed and all(u.backchannel for u in units[k + 1:]))):
            units[k].turns.append(i)
            units[k].text = f"{units[k].text} {turn.text}".strip()
            continue
        backchannel = bool(conversation.timed and units and units[-1].speaker != turn.speaker and is_backchannel(turn.text))
        units.append(Unit(turn.speaker, [i], turn.text, backchannel))
        if not backchannel:
            open_unit = {turn.speaker: len(units) - 1}
    return units


@dataclass
class CallFacts:
    """Everything a quality reads: the turns, what the heads said about each, the measured
    characteristics, and the outcome; and the same turns joined into units, judged as units."""

    conversation: Conversation
    signals: TurnSignals
    characteristics: Characteristics
    outcome: Outcome
    units: list[Unit] = field(init=False)
    unit_signals: TurnSignals = field(init=False)  # the heads' judgement of each unit as a whole

    def __post_init__(self):
        # made here, not as cached_property: on Python 3.11 that holds one lock for every instance
        # while it computes, and conversations scored in threads (Scorer.score_conversations) would
        # wait on each other's encoder runs for ever
        self.units = build_units(self.conversation)
        units = self.units
        self.unit_signals = self.signals.for_groups([u.turns for u in units], [u.text for u in units],
                                                    [u.speaker for u in units])

    def indices(self, speaker: str) -> list[int]:
        return [i for i, t in enumerate(self.conversation.turns) if t.speaker == speaker]

    def measured(self, key: str) -> bool:
        return key not in self.characteristics.skipped

    def unit_indices(self, speaker: str) -> list[int]:
        """The party's units, backchannels left out: they are listening, not content."""
        return [k for k, u in enumerate(self.units) if u.speaker == speaker and not u.backchannel]

    def weights(self, indices: list[int]) -> np.ndarray:
        return np.array([self.units[k].weight for k in indices], dtype=float)

    def replies(self) -> list[tuple[int, int]]:
        """(customer unit, the agent unit answering it): the agent's next unit, when it comes before
        the customer says anything more."""
        pairs = []
        content = [k for k, u in enumerate(self.units) if not u.backchannel]
        for a, b in zip(content, content[1:]):
            if self.units[a].speaker == CUSTOMER and self.units[b].speaker == AGENT:
                pairs.append((a, b))
        return pairs

    def unit_moment(self, k: int) -> Moment:
        return units_moment(self.conversation, self.units[k].turns)
