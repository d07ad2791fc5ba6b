"""The result JSON (``CallResult.to_dict()``, README "Output") as pydantic models, and as JSON Schema.

The parts that are dataclasses of the pipeline (the call, speakers, scores, outcome,
characteristics, words) are used as they are, so the schema cannot drift from what is written;
only what ``to_dict`` reshapes is declared here. Every object refuses keys it does not declare:
the schema is the exact output, and a service can use ``CallResultModel`` as its response model.
"""
from __future__ import annotations

from typing import Union

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from .characteristics import Characteristics
from .conversation import Word
from .outcome import Outcome
from .qualities import QualityScore
from .result import CallInfo, Speakers

# Unknown keys are refused; the JSON Schema lists a field with a default as required too: to_dict writes every field.
EXACT = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class TurnModel(BaseModel):
    model_config = EXACT

    speaker: str
    begin_ms: int | None  # None for text given without times
    end_ms: int | None
    text: str
    words: list[Word]
    index: int
    # per head: the probability of a two-class head's second class, or every class's probability
    signals: dict[str, Union[float, dict[str, float]]]


class TranscriptionModel(TypedDict):
    __pydantic_config__ = EXACT  # type: ignore[misc]

    engine: str
    model: str
    device: str
    compute_type: str


class ModelsModel(BaseModel):
    """What made the result: a text conversation has no ``transcription`` (the key is absent)."""

    model_config = EXACT

    # left out of the JSON when absent, and so not required by the JSON Schema, by any schema generator
    # (FastAPI's OpenAPI document too)
    transcription: TranscriptionModel | None = Field(None, exclude_if=lambda value: value is None)
    hostscore: str  # the package version
    encoder: str
    heads: str  # file name of the turn heads
    heads_sha256: str  # first 12 hex digits of that file's SHA-256
    outcome_sha256: str  # the same for the call-outcome model
    profile: str  # "name vVERSION"


class CallResultModel(BaseModel):
    model_config = EXACT

    schema_version: str
    id: str | None
    call: CallInfo
    speakers: Speakers
    handle_time_ms: int | None  # None for text given without times
    scores: dict[str, QualityScore | None]  # None: not scored, with the reason under skipped
    outcome: Outcome | None
    characteristics: Characteristics | None
    turns: list[TurnModel]
    models: ModelsModel
    skipped: dict[str, str]
    timings: dict[str, float]  # seconds per stage of this call


def validate(result: dict) -> CallResultModel:
    """The result JSON as the model; ``pydantic.ValidationError`` if it is not of the schema."""
    return CallResultModel.model_validate(result)


def json_schema() -> dict:
    """The result JSON's JSON Schema (draft 2020-12), as the service's OpenAPI document shows it."""
    return CallResultModel.model_json_schema(mode="serialization")
