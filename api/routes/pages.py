"""The coaching workspace, server-rendered: the calls (upload, live queue, the scored calls table),
one call (the coaching view, with reviews) and the team. HTTP only: every read and write goes through
the same services as /v1, scoped to the signed-in key's tenant."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from scorer.outcome import STATUSES
from scorer.qualities import QUALITIES

from ..deps import browser, db
from ..security import Principal
from ..services import calls, reports, team, workspace
from .templating import templates

router = APIRouter(include_in_schema=False)
PAGE_ROWS = 50


def viewer(request: Request, session: Session = Depends(db)) -> Principal:
    """The signed-in principal; anyone else is sent to sign in and brought back here."""
    who = browser(request, session)
    if who is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "sign in first", headers={"Location": f"/sign-in?next={quote(back)}"})
    return who


def may(who: Principal, action: str) -> None:
    if not who.may(action):
        raise HTTPException(403, f"a {who.role} key may not do this ({action})")


def _number(name: str, given: str) -> float | None:
    try:
        return float(given) if given.strip() else None
    except ValueError:
        raise ValueError(f"{name}: a number, not {given!r}") from None


def _day(name: str, given: str) -> date | None:
    try:
        return date.fromisoformat(given) if given.strip() else None
    except ValueError:
        raise ValueError(f"{name}: a date (YYYY-MM-DD), not {given!r}") from None


def _day_start(day: date | None, days_after: int = 0) -> datetime | None:
    return datetime.combine(day + timedelta(days=days_after), time(), timezone.utc) if day else None


@router.get("/")
def home():
    return RedirectResponse("/calls", status_code=303)


@router.get("/calls")
def calls_page(request: Request, agent: str = "", team_name: Annotated[str, Query(alias="team")] = "", outcome: str = "",
               below_quality: str = "satisfaction", below: str = "", since: str = "", until: str = "",
               unreviewed: bool = False, q: Annotated[str, Query(max_length=200)] = "", sort: str = calls.NEWEST_FIRST,
               cursor: str | None = None, who: Principal = Depends(viewer), session: Session = Depends(db)):
    """The filter form sends every field, empty ones too: an empty field filters nothing."""
    try:
        threshold, first, last = _number("below", below), _day("since", since), _day("until", until)
        where = calls.CallFilter(agent_id=agent or None, team=team_name or None, status="COMPLETED",
                                 outcome=outcome if outcome in STATUSES else None,
                                 reviewed=False if unreviewed else None, since=_day_start(first),
                                 until=_day_start(last, days_after=1),  # the "until" day is included
                                 below={below_quality: threshold} if threshold is not None else None, search=q or None)
        rows, next_cursor = calls.list_calls(session, who.tenant_id, where, PAGE_ROWS, cursor, sort)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    filters = {"agent": agent, "team": team_name, "outcome": outcome, "below_quality": below_quality, "below": below,
               "since": since, "until": until, "unreviewed": unreviewed, "q": q}
    query = {k: v for k, v in filters.items() if v not in ("", False, None)}

    def link(**changes) -> str:
        """This list with some parameters changed (paging restarts unless a cursor is given)."""
        return "/calls?" + urlencode({**query, "sort": sort, **changes})

    return templates.TemplateResponse(request, "calls.html", {
        "page": "calls", "who": who, "calls": rows, "filters": filters, "sort": sort, "link": link, "cursor": cursor,
        "next_cursor": next_cursor, "statuses": STATUSES, "qualities": QUALITIES,
        "queue": workspace.queue(session, who.tenant_id)})


@router.get("/calls/queue")
def queue_fragment(request: Request, who: Principal = Depends(viewer), session: Session = Depends(db)):
    """The live queue alone, polled by the calls page."""
    return templates.TemplateResponse(request, "_queue.html", {"queue": workspace.queue(session, who.tenant_id)})


@router.get("/calls/{call_id}")
def call_page(request: Request, call_id: str, who: Principal = Depends(viewer), session: Session = Depends(db)):
    call, reviews = _found(lambda: (calls.get(session, who.tenant_id, call_id), calls.reviews(session, who.tenant_id, call_id)))
    return templates.TemplateResponse(request, "call.html", {
        "who": who, "call": call, "result": call.result, "reviews": reviews, "qualities": QUALITIES,
        "statuses": STATUSES, "overrides": workspace.overrides_in_force(reviews),
        "can_review": who.may("review") and call.status == "COMPLETED"})


@router.post("/calls/{call_id}/reviews")
def review(call_id: str, note: Annotated[str, Form(max_length=20000)] = "",
           connection: Annotated[str, Form()] = "", energy: Annotated[str, Form()] = "",
           satisfaction: Annotated[str, Form()] = "", outcome: Annotated[str, Form()] = "",
           who: Principal = Depends(viewer), session: Session = Depends(db)):
    """The coach's note and overrides from the call page's form (an empty field overrides nothing)."""
    may(who, "review")
    overrides: dict[str, float | str] = {"outcome": outcome} if outcome else {}
    for quality, given in zip(QUALITIES, (connection, energy, satisfaction)):
        if given.strip():
            try:
                overrides[quality] = float(given)
            except ValueError:
                raise HTTPException(422, f"{quality}: a score from 0 to 100, not {given!r}") from None
    try:
        _found(lambda: calls.add_review(session, who.tenant_id, call_id, f"{who.tenant}/{who.key_id}", note.strip(), overrides))
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return RedirectResponse(f"/calls/{call_id}#reviews", status_code=303)


@router.get("/team")
def team_page(request: Request, since: str = "", until: str = "", who: Principal = Depends(viewer),
              session: Session = Depends(db)):
    may(who, "report")
    try:
        start, end = _day_start(_day("since", since)), _day_start(_day("until", until), days_after=1)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    scored = team.scored_calls(session, who.tenant_id, start, end)
    median, short_bad = team.short_bad_agents(scored)
    span = urlencode({k: v.isoformat() for k, v in (("since", start), ("until", end)) if v})
    return templates.TemplateResponse(request, "team.html", {
        "page": "team", "who": who, "since": since, "until": until, "agents": reports.report(session, who.tenant_id, "agents", start, end),
        "teams": reports.report(session, who.tenant_id, "teams", start, end), "calls": scored,
        "weekly": team.weekly(scored), "median_handle_time_s": median, "short_bad": short_bad,
        "bad_score": team.BAD_SCORE, "span": span, "qualities": QUALITIES})


def _found(fetch):
    try:
        return fetch()
    except calls.NotFound as e:
        raise HTTPException(404, str(e)) from None


HEADINGS = {401: "Sign in first", 403: "Not allowed", 404: "Not found", 422: "That did not work"}


def error_pages(app) -> None:
    """A browser that opens a page and meets an error sees a page saying so; API clients (and the
    pages' own scripts) still get the JSON problem."""

    @app.exception_handler(StarletteHTTPException)
    async def page_or_problem(request: Request, error: StarletteHTTPException):
        if error.status_code < 400 or request.url.path.startswith("/v1/") or "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, error)
        return templates.TemplateResponse(request, "error.html", status_code=error.status_code, context={
            "who": None, "status": error.status_code, "heading": HEADINGS.get(error.status_code, "Something went wrong"),
            "detail": error.detail})
