"""Liveness, readiness and Prometheus metrics: no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from ..db.session import engine
from ..deps import State, state
from ..metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz():
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(response: Response, hs: State = Depends(state)):
    """Database and queue reachable, models loaded: 503 with what is not, until then."""
    checks = {}
    try:
        with engine(hs.url).connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as e:  # noqa: BLE001 - any failure is "not ready", said in words
        checks["database"] = f"unreachable: {type(e).__name__}"
    checks["queue"] = hs.pool.check()
    checks["models"] = hs.pool.models
    ready = checks["database"] == "ok" and checks["queue"] == "ok" and checks["models"] == "loaded"
    response.status_code = 200 if ready else 503
    return {"status": "ready" if ready else "not ready", "checks": checks}


@router.get("/metrics", response_class=Response)
def metrics(hs: State = Depends(state)):
    """Counted in this process and in every worker sharing its data dir, and calls by status."""
    return Response(exposition(hs.url, hs.data_dir), media_type=CONTENT_TYPE_LATEST)
