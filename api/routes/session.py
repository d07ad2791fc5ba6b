"""Signing in and out of the pages with an API key: HTTP only; the session is services.sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from ..deps import State, db, same_origin, state
from ..services import sessions
from .templating import templates

router = APIRouter(include_in_schema=False)


def local(path: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another host; browsers read
    "/\\host" as "//host")."""
    return path if path and path.startswith("/") and not path.startswith(("//", "/\\")) else "/calls"


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None):
    return templates.TemplateResponse(request, "sign_in.html", {"next": local(next), "error": None})


@router.post("/sign-in")
def sign_in(request: Request, key: Annotated[str, Form(max_length=500)], next: Annotated[str | None, Form()] = None,
            session: Session = Depends(db), hs: State = Depends(state)):
    if not same_origin(request):
        raise HTTPException(403, "sign in from this service's own sign-in page")
    signed = sessions.sign_in(session, hs.data_dir, key)
    if signed is None:
        return templates.TemplateResponse(request, "sign_in.html", status_code=401, context={
            "next": local(next), "error": "That key is not valid: it is unknown, revoked or mistyped."})
    _, token = signed
    response = RedirectResponse(local(next), status_code=303)
    # Lax, not Strict: a link to a call (from an e-mail, a ticket) opens signed in; what changes
    # something also needs this site's Origin (deps.browser)
    response.set_cookie(sessions.COOKIE, token, max_age=sessions.MAX_AGE_S, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/sign-out")
def sign_out(request: Request):
    if not same_origin(request):
        raise HTTPException(403, "sign out from this service's own pages")
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response
