"""What the API sends and takes, apart from the tables (FastAPI's full-stack template: models and
schemas apart). A call's ``result`` is the library's JSON (README "Output"), typed by its models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scorer.schema import CallResultModel

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
    result: CallResultModel | None = Field(None, description="the pipeline's result (README: Output), when COMPLETED")


def call_detail_json(call, result_json: str | None) -> bytes:
    """CallDetail's JSON for ``call``, with its stored result JSON put in as it is: not decoded, checked and
    encoded again on every read (the library wrote it, of this schema)."""
    head = CallOut.model_validate(call).model_dump_json()
    return f'{head[:-1]},"result":{result_json or "null"}}}'.encode()


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


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, pattern=r"^https?://[^\s/?#]+\S*$", description="where to POST, http(s)")
    secret: str | None = Field(None, min_length=16, max_length=200, description=(
        "the HMAC-SHA256 key that signs each delivery; one is made (and returned once) when not given"))
    description: str = Field("", max_length=500)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    url: str
    description: str
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="shown only now: verify the Hostscore-Signature header with it (README: Webhooks)")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    attempted_at: datetime
    status_code: int | None = Field(description="the endpoint's HTTP status; null when it could not be reached")
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str = Field(description="also sent as the Hostscore-Delivery header")
    call_id: str
    status: Literal["COMPLETED", "FAILED"]
    state: Literal["pending", "delivered", "failed"] = Field(description=(
        "pending: will be tried (again) at next_attempt_at; delivered: answered 2xx; failed: refused "
        "with a 4xx other than 429, or out of attempts"))
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut] = Field(description="every attempt, oldest first")


class ReportRow(BaseModel):
    calls: int = Field(description="COMPLETED calls posted in the range")
    average_handle_time_s: float | None
    mean_connection: float | None
    mean_energy: float | None
    mean_satisfaction: float | None
    resolution_rate: float | None = Field(description="share of the calls whose outcome is resolved (on the call)")
    deferral_rate: float | None = Field(description="share of the calls whose outcome is deferred")
    handle_time_spearman_connection: float | None = Field(description=(
        "Spearman rank correlation of handle time with the score; null under 3 calls or when either is constant"))
    handle_time_spearman_energy: float | None
    handle_time_spearman_satisfaction: float | None

    @classmethod
    def columns(cls) -> list[str]:
        """The CSV's columns: the row's key (agent or team) first, then the measures."""
        measures = list(ReportRow.model_fields)
        return [f for f in cls.model_fields if f not in measures] + measures


class AgentRow(ReportRow):
    agent_id: str | None
    agent_name: str | None = Field(description="as the agent's latest call gave it")


class TeamRow(ReportRow):
    team: str | None


class AgentReport(BaseModel):
    since: datetime | None
    until: datetime | None
    agents: list[AgentRow]


class TeamReport(BaseModel):
    since: datetime | None
    until: datetime | None
    teams: list[TeamRow]
