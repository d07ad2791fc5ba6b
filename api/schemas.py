"""What the API sends and takes, apart from the tables (FastAPI's full-stack template: models and
schemas apart). A call's ``result`` is the library's JSON (README "Output")."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED"]


class Accepted(BaseModel):
    id: str
    status: Status


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: Literal["audio", "text"]
    status: Status
    failure_reason: str | None
    attempts: int
    external_id: str | None
    agent_id: str | None
    agent_name: str | None
    team: str | None
    queue: str | None
    direction: str | None
    started_at: datetime | None
    agent_channel: str
    labels: dict
    filename: str | None
    media_type: str | None
    size_bytes: int | None
    connection: float | None
    energy: float | None
    satisfaction: float | None
    outcome: str | None
    handle_time_ms: int | None
    reviewed: bool
    created_at: datetime
    completed_at: datetime | None


class CallDetail(CallOut):
    result: dict | None = Field(None, description="the pipeline's result (README: Output), when COMPLETED")


class CallPage(BaseModel):
    calls: list[CallOut]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null on the last")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=20000)
    overrides: dict[str, float | str] = Field(default_factory=dict, description=(
        "scores to override (connection, energy, satisfaction: 0-100) and/or outcome "
        "(resolved, deferred, transferred, unresolved)"))


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    call_id: str
    author: str
    note: str
    overrides: dict
    machine: dict = Field(description="the machine's values of what was overridden, kept beside the overrides")
    created_at: datetime


class Problem(BaseModel):
    detail: str
