"""/v1/webhooks: a tenant's admin registers endpoints and reads their delivery log; the work is in
services.webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from sqlalchemy.orm import Session

from ..deps import allowed, db
from ..schemas import AttemptOut, DeliveryOut, Problem, WebhookCreated, WebhookIn, WebhookOut
from ..security import Principal
from ..services import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}}


@router.post("", status_code=201, response_model=WebhookCreated, responses=ERRORS)
def create(webhook: WebhookIn, response: Response, who: Principal = Depends(allowed("admin")),
           session: Session = Depends(db)):
    """Announce this tenant's calls to ``url`` when they are COMPLETED or FAILED: a signed POST of
    ``{"id", "status"}``. The secret is in this answer only."""
    endpoint = webhooks.register(session, who.tenant_id, webhook.url, webhook.secret, webhook.description)
    response.headers["Location"] = f"/v1/webhooks/{endpoint.id}"
    return WebhookCreated.model_validate(endpoint)


@router.get("", response_model=list[WebhookOut], responses=ERRORS)
def list_webhooks(who: Principal = Depends(allowed("admin")), session: Session = Depends(db)):
    return webhooks.endpoints(session, who.tenant_id)


@router.delete("/{webhook_id}", status_code=204, responses=ERRORS)
def delete(webhook_id: str, who: Principal = Depends(allowed("admin")), session: Session = Depends(db)):
    """The endpoint, its pending deliveries and its log."""
    _found(lambda: webhooks.remove(session, who.tenant_id, webhook_id))
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut], responses=ERRORS)
def deliveries(webhook_id: str, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               who: Principal = Depends(allowed("admin")), session: Session = Depends(db)):
    """Newest first, each with every attempt: when, the HTTP status or the error."""
    found = _found(lambda: webhooks.deliveries(session, who.tenant_id, webhook_id, limit))
    return [DeliveryOut(**_fields(delivery), log=[AttemptOut.model_validate(a) for a in attempts])
            for delivery, attempts in found]


def _fields(delivery) -> dict:
    return {name: getattr(delivery, name) for name in DeliveryOut.model_fields if name != "log"}


def _found(fetch):
    try:
        return fetch()
    except webhooks.NotFound as e:
        raise HTTPException(404, str(e)) from None
