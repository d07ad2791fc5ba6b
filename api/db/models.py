"""The service's tables (SQLAlchemy 2). Every row a tenant can see carries its tenant_id, and every
query filters by it: a guessed id from another tenant is simply not found."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict: JSON}


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # the public part of the key
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the secret part; the key itself is never stored
    created_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Call(Base):
    """A recording or a text conversation posted for scoring, its job state and its result."""

    __tablename__ = "calls"
    __table_args__ = (UniqueConstraint("tenant_id", "idempotency_key"), UniqueConstraint("tenant_id", "external_id"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "audio" or "text"
    status: Mapped[str] = mapped_column(String(20), index=True)  # QUEUED, IN_PROGRESS, COMPLETED, FAILED
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(36), default=None)  # the worker run that owns the job
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)  # renewed while the job runs (the lease)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    agent_id: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    agent_name: Mapped[str | None] = mapped_column(String(200), default=None)
    team: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    queue: Mapped[str | None] = mapped_column(String(200), default=None)
    direction: Mapped[str | None] = mapped_column(String(20), default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    agent_channel: Mapped[str] = mapped_column(String(10), default="auto")
    labels: Mapped[dict] = mapped_column(default=dict)
    filename: Mapped[str | None] = mapped_column(String(300), default=None)  # as uploaded: shown, never used as a path
    audio_path: Mapped[str | None] = mapped_column(String(300), default=None)  # relative to the data dir
    media_type: Mapped[str | None] = mapped_column(String(50), default=None)
    size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    transcript: Mapped[dict | None] = mapped_column(default=None)  # a text conversation as posted
    result: Mapped[dict | None] = mapped_column(default=None)  # the pipeline's JSON
    # copied out of the result, for filters and reports
    connection: Mapped[float | None] = mapped_column(Float, default=None)
    energy: Mapped[float | None] = mapped_column(Float, default=None)
    satisfaction: Mapped[float | None] = mapped_column(Float, default=None)
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    handle_time_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    transcript_text: Mapped[str | None] = mapped_column(Text, default=None)  # the turns' text, for search
    stage: Mapped[str | None] = mapped_column(String(200), default=None)  # what the worker is doing, while IN_PROGRESS
    reviewed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class Review(Base):
    """A supervisor's note on a call, with any scores or outcome they override; the machine's values
    at the time are kept beside the overrides."""

    __tablename__ = "reviews"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    overrides: Mapped[dict] = mapped_column(default=dict)
    machine: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=now)


class WebhookEndpoint(Base):
    """A URL a tenant's admin registered to hear when its calls are COMPLETED or FAILED. The secret
    signs each delivery, so it is kept as given (shown to the caller once, at creation)."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)


class WebhookDelivery(Base):
    """One announcement of one call's final status to one endpoint, sent until it is answered 2xx,
    refused with a 4xx other than 429, or out of attempts. Unique per (endpoint, call, status): a call
    that finishes is announced once however many times the hook runs."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "call_id", "status"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # the call's status announced: COMPLETED or FAILED
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # when it is next due; while a sender holds it, the end of its lease (a sender that dies is retried)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=now, index=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttempt(Base):
    """The delivery log: each POST, when, and what came back (a status code, or the error)."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=now)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
