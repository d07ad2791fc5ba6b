"""What routes are handed: the service state, a database session, and the caller (by API key),
checked for its role and held to its request rate."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from anyio import CapacityLimiter
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from scorer.settings import Settings

from .db.session import session
from .security import Principal, authenticate
from .services import sessions

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class RateLimiter:
    """A sliding minute of requests per key, in this process."""

    per_minute: int
    _seen: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key_id: str) -> bool:
        moment = time.monotonic()
        with self._lock:
            seen = self._seen[key_id]
            while seen and moment - seen[0] > 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return False
            seen.append(moment)
            return True


@dataclass
class State:
    settings: Settings
    url: str
    data_dir: Path
    pool: object  # jobs.pool.WorkerPool or jobs.celery_queue.CeleryQueue: .notify(), .models
    limiter: RateLimiter
    status_reads: CapacityLimiter  # the threads status reads may take at once


async def state(request: Request) -> State:  # no I/O: on the event loop, not a thread
    return request.app.state.hostscore


def db(request: Request):
    with session(request.app.state.hostscore.url) as s:
        yield s


bearer = HTTPBearer(auto_error=False, description="an API key from `hostscore keys create`")


async def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    # One hop to a thread for the whole check, in a session of its own: each sync dependency is a hop
    # of its own (a generator two), and at ten reads in flight the hops, not the queries, were most
    # of the API's time (bench/README.md).
    def check() -> Principal:
        with session(request.app.state.hostscore.url) as s:
            return identify(request, credentials, s)

    return await run_in_threadpool(check)


def identify(request: Request, credentials: HTTPAuthorizationCredentials | None, session) -> Principal:
    """The caller, by API key or by the pages' session cookie, held to its request rate."""
    hs = request.app.state.hostscore
    if credentials is None:
        who = browser(request, session)  # the pages' own requests: the audio element, uploads
        if who is None:
            raise HTTPException(401, "missing API key: send Authorization: Bearer <key>", headers={"WWW-Authenticate": "Bearer"})
    else:
        who = authenticate(session, credentials.credentials)
    if who is None:
        raise HTTPException(401, "the API key is not valid (unknown, revoked or mistyped)", headers={"WWW-Authenticate": "Bearer"})
    if not hs.limiter.allow(who.key_id):
        raise HTTPException(429, "too many requests for this API key: slow down", headers={"Retry-After": "60"})
    return who


def browser(request: Request, session) -> Principal | None:
    """Who a signed-in browser is, from its session cookie. A request that changes something must come
    from this service's own pages (its Origin is this host)."""
    who = sessions.principal(session, request.app.state.hostscore.data_dir, request.cookies.get(sessions.COOKIE))
    if who is not None and request.method not in SAFE_METHODS and not same_origin(request):
        raise HTTPException(403, "a signed-in browser may change things only from this service's own pages")
    return who


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc == request.headers.get("host")


def allowed(action: str):
    """A dependency: the caller, if their role may do ``action``."""

    async def check(who: Principal = Depends(caller)) -> Principal:  # no I/O: on the event loop, not a thread
        return permitted(who, action)

    return check


def permitted(who: Principal, action: str) -> Principal:
    if not who.may(action):
        raise HTTPException(403, f"a {who.role} key may not do this ({action})")
    return who
