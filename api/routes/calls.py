"""/v1/calls and /v1/transcripts: HTTP only; the work is in services.calls."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from .. import metrics
from ..db.session import session as open_session
from ..deps import State, allowed, bearer, db, identify, permitted, state
from ..schemas import Accepted, CallDetail, CallOut, CallPage, Problem, ReviewIn, ReviewOut, call_detail_json
from ..security import Principal
from ..services import calls

router = APIRouter(prefix="/v1", tags=["calls"])
ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}}
Text = Annotated[str | None, Form(max_length=200)]


def _metadata(external_id, agent_id, agent_name, team, queue, direction, started_at, agent_channel, labels) -> calls.CallMetadata:
    try:
        parsed_labels = json.loads(labels) if labels else {}
    except json.JSONDecodeError as e:
        raise HTTPException(422, f"labels: not JSON ({e.msg})") from None
    if not isinstance(parsed_labels, dict):
        raise HTTPException(422, "labels: must be a JSON object")
    try:
        started = datetime.fromisoformat(started_at) if started_at else None
    except ValueError:
        raise HTTPException(422, f"started_at: not an ISO 8601 time: {started_at!r}") from None
    return calls.CallMetadata(external_id, agent_id, agent_name, team, queue, direction, started, agent_channel, parsed_labels)


def _accepted(call, new: bool, response: Response, hs: State) -> Accepted:
    response.headers["Location"] = f"/v1/calls/{call.id}"
    if new:
        metrics.UPLOADS.labels(call.kind).inc()
        hs.pool.notify(call.id)
    else:
        response.status_code = 200  # the first request's call, not a duplicate
    return Accepted(id=call.id, status=call.status)


@router.post("/calls", status_code=202, response_model=Accepted,
             responses={**ERRORS, 200: {"model": Accepted, "description": "the same upload came before (idempotency)"},
                        413: {"model": Problem}, 415: {"model": Problem}})
def post_call(response: Response, audio: Annotated[UploadFile, File(description="the recording")],
              external_id: Text = None, agent_id: Text = None, agent_name: Text = None, team: Text = None,
              queue: Text = None, direction: Text = None, started_at: Text = None,
              agent_channel: Annotated[Literal["auto", "left", "right"], Form()] = "auto",
              labels: Annotated[str | None, Form(max_length=20000, description="a JSON object")] = None,
              idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
              who: Principal = Depends(allowed("post")), session: Session = Depends(db), hs: State = Depends(state)):
    meta = _metadata(external_id, agent_id, agent_name, team, queue, direction, started_at, agent_channel, labels)
    try:
        call, new = calls.store_upload(session, hs.data_dir, who.tenant_id, audio.file, audio.filename, meta,
                                       idempotency_key, int(hs.settings.max_upload_mb * 1e6))
    except calls.UnsupportedMedia as e:
        raise HTTPException(415, f"{audio.filename or 'upload'}: {e}") from None
    except calls.TooLarge as e:
        raise HTTPException(413, f"{audio.filename or 'upload'}: {e}") from None
    return _accepted(call, new, response, hs)


@router.post("/transcripts", status_code=202, response_model=Accepted,
             responses={**ERRORS, 200: {"model": Accepted, "description": "the same conversation came before"}})
def post_transcript(response: Response, conversation: dict,
                    agent_id: Annotated[str | None, Query(max_length=200)] = None,
                    team: Annotated[str | None, Query(max_length=200)] = None,
                    queue: Annotated[str | None, Query(max_length=200)] = None,
                    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
                    who: Principal = Depends(allowed("post")), session: Session = Depends(db), hs: State = Depends(state)):
    """A conversation that is already text: the CLI's input format, ``{"id"?, "turns": [...]}``."""
    meta = calls.CallMetadata(agent_id=agent_id, team=team, queue=queue)
    try:
        call, new = calls.store_transcript(session, who.tenant_id, conversation, meta, idempotency_key)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return _accepted(call, new, response, hs)


@router.get("/calls/{call_id}", response_model=CallDetail, responses=ERRORS)
async def get_call(call_id: str, request: Request,
                   credentials: HTTPAuthorizationCredentials | None = Depends(bearer)):
    # What platforms poll. The key's check, the query and the JSON are one hop to a thread: as sync
    # dependencies and a sync endpoint they were four, which at ten reads in flight doubled the API's
    # time per read; and a few threads of their own (HOSTSCORE_STATUS_READ_THREADS), not the 40 every
    # sync route shares, so ten reads in flight do not all take turns on the GIL (bench/README.md).
    def read() -> bytes:
        with open_session(request.app.state.hostscore.url) as session:
            who = permitted(identify(request, credentials, session), "read")
            return call_detail_json(*_found(lambda: calls.detail(session, who.tenant_id, call_id)))

    return Response(await to_thread.run_sync(read, limiter=request.app.state.hostscore.status_reads), media_type="application/json")


@router.get("/calls/{call_id}/audio", response_class=FileResponse, responses=ERRORS)
def get_audio(call_id: str, who: Principal = Depends(allowed("read")), session: Session = Depends(db),
              hs: State = Depends(state)):
    """The recording as uploaded; HTTP range requests let a browser player seek."""
    call = _found(lambda: calls.get(session, who.tenant_id, call_id))
    path = _found(lambda: calls.audio_file(hs.data_dir, call))
    return FileResponse(path, media_type=call.media_type)


@router.get("/calls", response_model=CallPage, responses=ERRORS)
def list_calls(agent_id: str | None = None, team: str | None = None, queue: str | None = None,
               status: Literal["QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED"] | None = None,
               outcome: Literal["resolved", "deferred", "transferred", "unresolved"] | None = None,
               reviewed: bool | None = None, since: datetime | None = None, until: datetime | None = None,
               min_connection: float | None = None, max_connection: float | None = None,
               min_energy: float | None = None, max_energy: float | None = None,
               min_satisfaction: float | None = None, max_satisfaction: float | None = None,
               search: Annotated[str | None, Query(alias="q", max_length=200,
                                                   description="words the transcript must contain, any case")] = None,
               sort: Annotated[str, Query(description="created_at, handle_time_ms, connection, energy, satisfaction, "
                                                      "agent_id, team or outcome; - first for descending")] = calls.NEWEST_FIRST,
               limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
               who: Principal = Depends(allowed("read")), session: Session = Depends(db)):
    """Newest first unless sorted otherwise, filtered; ``next_cursor`` pages on (in the same sort)."""
    bounds = {"connection": (min_connection, max_connection), "energy": (min_energy, max_energy),
              "satisfaction": (min_satisfaction, max_satisfaction)}
    where = calls.CallFilter(agent_id, team, queue, status, outcome, reviewed, since, until,
                             above={q: lo for q, (lo, _) in bounds.items() if lo is not None},
                             below={q: hi for q, (_, hi) in bounds.items() if hi is not None}, search=search)
    try:
        rows, more = calls.list_calls(session, who.tenant_id, where, limit, cursor, sort)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return CallPage(calls=[CallOut.model_validate(r) for r in rows], next_cursor=more)


@router.delete("/calls/{call_id}", status_code=204, responses=ERRORS)
def delete_call(call_id: str, who: Principal = Depends(allowed("post")), session: Session = Depends(db),
                hs: State = Depends(state)):
    """The call, its recording, result and reviews."""
    _found(lambda: calls.delete(session, hs.data_dir, who.tenant_id, call_id))
    return Response(status_code=204)


@router.post("/calls/{call_id}/reviews", status_code=201, response_model=ReviewOut, responses=ERRORS)
def post_review(call_id: str, review: ReviewIn, who: Principal = Depends(allowed("review")),
                session: Session = Depends(db)):
    try:
        return _found(lambda: calls.add_review(session, who.tenant_id, call_id, f"{who.tenant}/{who.key_id}",
                                               review.note, review.overrides))
    except ValueError as e:
        raise HTTPException(422, str(e)) from None


@router.get("/calls/{call_id}/reviews", response_model=list[ReviewOut], responses=ERRORS)
def get_reviews(call_id: str, who: Principal = Depends(allowed("read")), session: Session = Depends(db)):
    return _found(lambda: calls.reviews(session, who.tenant_id, call_id))


def _found(fetch):
    try:
        return fetch()
    except calls.NotFound as e:
        raise HTTPException(404, str(e)) from None
