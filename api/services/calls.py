"""Calls: stored on arrival (the recording streamed to disk, the row committed) before the caller
hears 202, then queued; read back, listed, reviewed and deleted, always within one tenant."""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Row, Text, and_, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scorer.conversation import from_dict
from scorer.outcome import STATUSES
from scorer.qualities import QUALITIES

from ..db.models import Call, Review
from ..schemas import CallOut

CHUNK = 1 << 20
# What a recording starts with: the formats scorer.audio reads, told from the bytes, never from the
# name or the Content-Type a client claims.
SIGNATURES = (
    (0, b"RIFF", "audio/wav"), (0, b"RF64", "audio/wav"), (0, b"fLaC", "audio/flac"), (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"), (4, b"ftyp", "audio/mp4"), (0, b"\x1a\x45\xdf\xa3", "audio/webm"),
)
EXTENSIONS = {"audio/wav": ".wav", "audio/flac": ".flac", "audio/ogg": ".ogg", "audio/mpeg": ".mp3",
              "audio/mp4": ".m4a", "audio/webm": ".webm"}


class UnsupportedMedia(ValueError):
    """The upload is not a recording hostscore can read (HTTP 415)."""


class TooLarge(ValueError):
    """The upload is over the size limit (HTTP 413)."""


class NotFound(LookupError):
    """No such call for this tenant (HTTP 404): another tenant's call is not found either."""


@dataclass
class CallMetadata:
    external_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    team: str | None = None
    queue: str | None = None
    direction: str | None = None
    started_at: datetime | None = None
    agent_channel: str = "auto"
    labels: dict | None = None


def sniff(head: bytes) -> str:
    """The recording's media type from its first bytes, or UnsupportedMedia saying what it looks like."""
    for offset, magic, media in SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            if media == "audio/wav" and head[8:12] != b"WAVE":
                break
            return media
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame without ID3 tags
        return "audio/mpeg"
    if not head:
        raise UnsupportedMedia("the upload is empty")
    try:
        head.decode("utf-8")
        looks = "text"
    except UnicodeDecodeError:
        looks = "binary data of an unknown kind"
    raise UnsupportedMedia(f"not a recording hostscore can read: the file is {looks}, not WAV, MP3, FLAC, OGG/Opus, "
                           "M4A or WebM")


def existing(session: Session, tenant_id: str, idempotency_key: str | None, external_id: str | None) -> Call | None:
    """The call an earlier request with the same Idempotency-Key or external_id created."""
    conditions = []
    if idempotency_key:
        conditions.append(Call.idempotency_key == idempotency_key)
    if external_id:
        conditions.append(Call.external_id == external_id)
    if not conditions:
        return None
    return session.scalar(select(Call).where(Call.tenant_id == tenant_id, or_(*conditions)))


def store_upload(session: Session, data_dir: Path, tenant_id: str, upload: BinaryIO, filename: str | None,
                 meta: CallMetadata, idempotency_key: str | None, max_bytes: int) -> tuple[Call, bool]:
    """Copy the upload to the data dir a chunk at a time and record the call as QUEUED; returns the
    call and whether it is new (False: the same idempotency key or external_id came before)."""
    if (found := existing(session, tenant_id, idempotency_key, meta.external_id)) is not None:
        return found, False
    media = sniff(upload.read(64))
    upload.seek(0)
    call_id = str(uuid.uuid4())
    relative = Path("audio") / tenant_id / f"{call_id}{EXTENSIONS[media]}"
    target = Path(data_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    size = 0
    try:
        with open(partial, "wb") as out:
            while chunk := upload.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"the upload is over the {max_bytes / 1e6:.0f} MB limit")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # on disk before the caller is told it was accepted
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    call = _new_call(call_id, tenant_id, "audio", meta, idempotency_key)
    call.filename, call.audio_path, call.media_type, call.size_bytes = filename, str(relative), media, size
    return _commit_new(session, call, target)


def store_transcript(session: Session, tenant_id: str, conversation: dict, meta: CallMetadata,
                     idempotency_key: str | None) -> tuple[Call, bool]:
    """Record a text conversation (checked by the library's schema first: a bad one is refused now,
    with the turn and field, not failed later)."""
    meta.external_id = meta.external_id or (conversation.get("id") if isinstance(conversation.get("id"), str) else None)
    if (found := existing(session, tenant_id, idempotency_key, meta.external_id)) is not None:
        return found, False
    from_dict(conversation)  # raises ValueError naming the turn and field
    call = _new_call(str(uuid.uuid4()), tenant_id, "text", meta, idempotency_key)
    call.transcript = conversation
    return _commit_new(session, call, None)


def _new_call(call_id: str, tenant_id: str, kind: str, meta: CallMetadata, idempotency_key: str | None) -> Call:
    return Call(id=call_id, tenant_id=tenant_id, kind=kind, status="QUEUED", idempotency_key=idempotency_key,
                external_id=meta.external_id, agent_id=meta.agent_id, agent_name=meta.agent_name, team=meta.team,
                queue=meta.queue, direction=meta.direction, started_at=meta.started_at,
                agent_channel=meta.agent_channel, labels=meta.labels or {})


def _commit_new(session: Session, call: Call, stored: Path | None) -> tuple[Call, bool]:
    session.add(call)
    try:
        session.commit()
    except IntegrityError:  # the same key raced in from another request: that one is the call
        session.rollback()
        if stored:
            stored.unlink(missing_ok=True)
        found = existing(session, call.tenant_id, call.idempotency_key, call.external_id)
        if found is None:
            raise
        return found, False
    return call, True


def get(session: Session, tenant_id: str, call_id: str) -> Call:
    call = session.scalar(select(Call).where(Call.id == call_id, Call.tenant_id == tenant_id))
    if call is None:
        raise NotFound(f"no call {call_id}")
    return call


# What a status read shows of a call (the API's CallOut): columns, not the mapped object, so a read
# neither decodes a text call's posted transcript nor builds an ORM instance it does not change.
SHOWN = [getattr(Call, name) for name in CallOut.model_fields]
_DETAIL = select(*SHOWN, cast(Call.result, Text).label("result_json"))


def detail(session: Session, tenant_id: str, call_id: str) -> tuple[Row, str | None]:
    """The call's shown columns, and its result as the JSON text stored (the library's JSON, written
    once): decoding it to send it again cost more than the rest of a status read (3.7 against 1.3 ms
    for a 35 kB result)."""
    row = session.execute(_DETAIL.where(Call.id == call_id, Call.tenant_id == tenant_id)).first()
    if row is None:
        raise NotFound(f"no call {call_id}")
    return row, row.result_json


@dataclass
class CallFilter:
    agent_id: str | None = None
    team: str | None = None
    queue: str | None = None
    status: str | None = None
    outcome: str | None = None
    reviewed: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    above: dict[str, float] | None = None  # quality -> the score must be at least this
    below: dict[str, float] | None = None  # quality -> the score must be at most this
    search: str | None = None  # words that must appear in the transcript (case-insensitive)


# What a list can be sorted by: the column, and what stands in for a missing value so that keyset
# paging has a total order (below every score and handle time, before every name).
SORTS = {"created_at": (Call.created_at, None), "handle_time_ms": (Call.handle_time_ms, -1),
         "connection": (Call.connection, -1), "energy": (Call.energy, -1), "satisfaction": (Call.satisfaction, -1),
         "agent_id": (Call.agent_id, ""), "team": (Call.team, ""), "outcome": (Call.outcome, "")}
NEWEST_FIRST = "-created_at"


def list_calls(session: Session, tenant_id: str, where: CallFilter, limit: int, cursor: str | None,
               sort: str = NEWEST_FIRST) -> tuple[list[Call], str | None]:
    """Sorted by ``sort`` (a name in SORTS, "-" first for descending; ties newest first by id), newest
    first by default; ``cursor`` (from the previous page) continues after its last call. Keyset paging:
    a page costs the same however deep it is."""
    query = select(Call).where(Call.tenant_id == tenant_id)
    for column in ("agent_id", "team", "queue", "status", "outcome", "reviewed"):
        if (value := getattr(where, column)) is not None:
            query = query.where(getattr(Call, column) == value)
    if where.since:
        query = query.where(Call.created_at >= where.since)
    if where.until:
        query = query.where(Call.created_at < where.until)
    for quality, bound in (where.above or {}).items():
        query = query.where(getattr(Call, _quality(quality)) >= bound)
    for quality, bound in (where.below or {}).items():
        query = query.where(getattr(Call, _quality(quality)) <= bound)
    for word in (where.search or "").split():
        query = query.where(Call.transcript_text.icontains(word, autoescape=True))
    name, descending = sort.removeprefix("-"), sort.startswith("-")
    if name not in SORTS:
        raise ValueError(f"sort: one of {', '.join(SORTS)} (with - first for descending), not {sort!r}")
    column, missing = SORTS[name]
    key = column if missing is None else func.coalesce(column, missing)
    if cursor:
        value, call_id = _read_cursor(cursor, name)
        after = (key < value, Call.id < call_id) if descending else (key > value, Call.id > call_id)
        query = query.where(or_(after[0], and_(key == value, after[1])))
    order = (key.desc(), Call.id.desc()) if descending else (key.asc(), Call.id.asc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_cursor(rows[-1], name) if more else None)


def _quality(name: str) -> str:
    if name not in QUALITIES:
        raise ValueError(f"unknown quality {name!r}: one of {', '.join(QUALITIES)}")
    return name


def _cursor(call: Call, sort: str) -> str:
    column, missing = SORTS[sort]
    value = getattr(call, column.key)
    value = value.isoformat() if isinstance(value, datetime) else (missing if value is None else value)
    return base64.urlsafe_b64encode(json.dumps([sort, value, call.id]).encode()).decode()


def _read_cursor(cursor: str, sort: str) -> tuple[object, str]:
    try:
        given, value, call_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise ValueError("cursor: not one this service gave out") from None
    if given != sort:
        raise ValueError(f"cursor: it pages a list sorted by {given}, not by {sort}")
    if sort == "created_at":
        try:
            value = datetime.fromisoformat(value)
        except (ValueError, TypeError):
            raise ValueError("cursor: not one this service gave out") from None
    return value, str(call_id)


def transcript_text(result: dict) -> str:
    """What a transcript search reads: the turns' text, one turn a line."""
    return "\n".join(turn["text"] for turn in result.get("turns") or [])


def delete(session: Session, data_dir: Path, tenant_id: str, call_id: str) -> None:
    call = get(session, tenant_id, call_id)
    if call.audio_path:
        (Path(data_dir) / call.audio_path).unlink(missing_ok=True)
    session.delete(call)
    session.commit()


def audio_file(data_dir: Path, call: Call) -> Path:
    if not call.audio_path:
        raise NotFound(f"call {call.id} is a text conversation: it has no recording")
    path = Path(data_dir) / call.audio_path
    if not path.is_file():
        raise NotFound(f"the recording of call {call.id} is no longer stored")
    return path


def add_review(session: Session, tenant_id: str, call_id: str, author: str, note: str, overrides: dict) -> Review:
    """A review; overrides name qualities (0-100) or "outcome", and the machine's values are kept beside them."""
    call = get(session, tenant_id, call_id)
    if call.status != "COMPLETED":
        raise ValueError(f"call {call_id} is {call.status}: only a scored call can be reviewed")
    machine = {q: getattr(call, q) for q in QUALITIES} | {"outcome": call.outcome}
    for name, value in overrides.items():
        if name not in machine:
            raise ValueError(f"overrides.{name}: not a score or the outcome ({', '.join(machine)})")
        if name == "outcome" and value not in STATUSES:
            raise ValueError(f"overrides.outcome: must be one of {', '.join(STATUSES)}, got {value!r}")
        if name != "outcome" and not (isinstance(value, (int, float)) and 0 <= value <= 100):
            raise ValueError(f"overrides.{name}: must be a score from 0 to 100, got {value!r}")
    review = Review(id=str(uuid.uuid4()), tenant_id=tenant_id, call_id=call_id, author=author, note=note,
                    overrides=overrides, machine={k: machine[k] for k in overrides} or machine)
    call.reviewed = True
    session.add(review)
    session.commit()
    return review


def reviews(session: Session, tenant_id: str, call_id: str) -> list[Review]:
    get(session, tenant_id, call_id)
    return list(session.scalars(select(Review).where(Review.call_id == call_id, Review.tenant_id == tenant_id)
                                .order_by(Review.created_at)))

