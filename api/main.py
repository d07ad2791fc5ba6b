"""The app factory: routers, the service state and its lifespan (the worker pool starts with the app
and loads the models once; the database is migrated before the first request)."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import CapacityLimiter
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from scorer import Scorer
from scorer.settings import Settings, settings as environment

from . import metrics
from .background import Background
from .db.session import database_url, migrate
from .deps import RateLimiter, State
from .jobs.celery_queue import CeleryQueue
from .jobs.pool import WorkerPool
from .routes import calls, health, pages, reports, session, webhooks
from .timing import ServerTiming

log = logging.getLogger("hostscore.api")


def scorer_factory(config: Settings):
    def make() -> Scorer:
        return Scorer(engine=config.engine, model=config.model, profile=config.profile, models_dir=config.models_dir,
                      max_duration_s=config.max_call_s)
    return make


def job_finished(call_id: str, status: str) -> None:
    """What follows every finished job, in whichever process ran it (the API's pool or a `hostscore
    worker`). Add hooks here, so both worker kinds run them; what must not be lost if the process dies
    right after the job (webhook deliveries) is written with the call's status instead (jobs.queue)."""
    metrics.JOBS.labels(status).inc()


def create_app(config: Settings | None = None, start_workers: bool = True) -> FastAPI:
    config = config or environment()
    data_dir = Path(config.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    metrics.count_in(data_dir)
    url = database_url(data_dir, config.database_url)
    migrate(url)
    if config.broker_url:  # scale-out: `hostscore worker` processes score; this process only sends tasks
        pool = CeleryQueue(url, config.broker_url, config.broker_queue, config.job_lease_s, config.job_attempts)
    else:
        pool = WorkerPool(url, data_dir, scorer_factory(config), config.workers, config.job_lease_s, config.job_attempts)
    pool.on_finished = job_finished
    hs = State(config, url, data_dir, pool, RateLimiter(config.rate_limit_per_minute), CapacityLimiter(config.status_read_threads))
    background = Background(url, data_dir, config)  # webhook deliveries and retention

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_workers:
            pool.start()
        background.start()
        # What start-up made (the app, the imported libraries) lives as long as the process: kept out of
        # the garbage collector's passes, a full one no longer stalls every request in flight (60-70 ms).
        gc.freeze()
        yield
        background.stop()
        pool.stop()

    app = FastAPI(title="hostscore", version=_version(), lifespan=lifespan,
                  description="Contact-centre conversation quality: connection, energy, satisfaction, outcome and "
                              "effort for every call, with evidence. Authenticate with `Authorization: Bearer <key>`.")
    app.state.hostscore = hs
    app.add_middleware(ServerTiming)
    app.include_router(calls.router)
    app.include_router(webhooks.router)
    app.include_router(reports.router)
    app.include_router(health.router)
    app.include_router(session.router)  # the pages: sign in, then calls, a call, the team
    app.include_router(pages.router)
    pages.error_pages(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")

    @app.exception_handler(RequestValidationError)
    async def one_line(request: Request, error: RequestValidationError):
        """A malformed request in one line naming the field, like the CLI's errors."""
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"] if p != "body") or "request"
        return JSONResponse({"detail": f"{where}: {problem['msg']}"}, status_code=422)

    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hostscore")
    except PackageNotFoundError:
        return "0"
