"""/v1/reports: per agent or team over a date range, as JSON or CSV; the work is in services.reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Header, Response
from sqlalchemy.orm import Session

from ..deps import allowed, db
from ..schemas import AgentReport, AgentRow, Problem, TeamReport, TeamRow
from ..security import Principal
from ..services import reports

router = APIRouter(prefix="/v1/reports", tags=["reports"])
ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 422: {"model": Problem}}
CSV = {200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with ?format=csv or Accept: text/csv"}}
ABOUT = ("COMPLETED calls posted in [since, until). The machine's scores and outcome, not reviewers' overrides. "
         "``?format=csv`` (or ``Accept: text/csv``) answers CSV with the same fields as columns.")


@router.get("/agents", response_model=AgentReport, responses={**ERRORS, **CSV}, description=ABOUT)
def agents(since: datetime | None = None, until: datetime | None = None, format: Literal["json", "csv"] | None = None,
           accept: str | None = Header(None), who: Principal = Depends(allowed("report")), session: Session = Depends(db)):
    rows = reports.report(session, who.tenant_id, "agents", since, until)
    if _csv(format, accept):
        return _csv_response(AgentRow, rows, "agents")
    return AgentReport(since=since, until=until, agents=rows)


@router.get("/teams", response_model=TeamReport, responses={**ERRORS, **CSV}, description=ABOUT)
def teams(since: datetime | None = None, until: datetime | None = None, format: Literal["json", "csv"] | None = None,
          accept: str | None = Header(None), who: Principal = Depends(allowed("report")), session: Session = Depends(db)):
    rows = reports.report(session, who.tenant_id, "teams", since, until)
    if _csv(format, accept):
        return _csv_response(TeamRow, rows, "teams")
    return TeamReport(since=since, until=until, teams=rows)


def _csv(format: str | None, accept: str | None) -> bool:
    return format == "csv" if format else "text/csv" in (accept or "")


def _csv_response(model, rows: list[dict], name: str) -> Response:
    return Response(reports.to_csv(model.columns(), rows), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
