"""Webhooks: the endpoints a tenant registers, and the deliveries that tell them a call is COMPLETED or
FAILED. ``enqueue`` writes a finished call's delivery rows in the transaction that finishes it (jobs.queue),
so a process that dies right after a call finishes loses no announcement; ``send_due`` POSTs what is due,
signed, and schedules the next try of what failed in the database, so a restart loses no delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db.models import Call, WebhookAttempt, WebhookDelivery, WebhookEndpoint, now
from ..db.session import session

BACKOFF = 2.5  # each retry waits this much longer than the one before
TIMEOUT_S = 10.0  # per POST
SEND_LEASE_S = 120.0  # a delivery being sent is not due again before this (a sender that dies is retried)
BATCH = 50
SIGNATURE_HEADER = "Hostscore-Signature"


class NotFound(LookupError):
    """No such endpoint for this tenant (HTTP 404): another tenant's is not found either."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header value: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay_s(attempt: int, base_s: float) -> float:
    """How long after failed attempt ``attempt`` (1, 2, ...) the next one is made."""
    return base_s * BACKOFF ** (attempt - 1)


def register(session: Session, tenant_id: str, url: str, secret: str | None, description: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(id=str(uuid.uuid4()), tenant_id=tenant_id, url=url, secret=secret or new_secret(),
                               description=description)
    session.add(endpoint)
    session.commit()
    return endpoint


def endpoints(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
                                .order_by(WebhookEndpoint.created_at)))


def get(session: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                            WebhookEndpoint.tenant_id == tenant_id))
    if endpoint is None:
        raise NotFound(f"no webhook {endpoint_id}")
    return endpoint


def remove(session: Session, tenant_id: str, endpoint_id: str) -> None:
    """The endpoint, its pending deliveries and its log."""
    session.delete(get(session, tenant_id, endpoint_id))
    session.commit()


def deliveries(session: Session, tenant_id: str, endpoint_id: str, limit: int) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """The endpoint's deliveries, newest first, each with its attempts in order."""
    get(session, tenant_id, endpoint_id)
    rows = list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id,
                                                              WebhookDelivery.tenant_id == tenant_id)
                                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit)))
    log: dict[str, list[WebhookAttempt]] = {row.id: [] for row in rows}
    for attempt in session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(log))
                                   .order_by(WebhookAttempt.id)):
        log[attempt.delivery_id].append(attempt)
    return [(row, log[row.id]) for row in rows]


def enqueue(session: Session, call_id: str, status: str) -> None:
    """A delivery of (call, status) for each endpoint of the call's tenant, added to ``session``: the
    caller commits it with the call's final status, which changes once (unique endpoint, call, status)."""
    targets = select(WebhookEndpoint.id, WebhookEndpoint.tenant_id).join(
        Call, Call.tenant_id == WebhookEndpoint.tenant_id).where(Call.id == call_id)
    for endpoint_id, tenant_id in session.execute(targets):
        session.add(WebhookDelivery(id=str(uuid.uuid4()), tenant_id=tenant_id, endpoint_id=endpoint_id,
                                    call_id=call_id, status=status))


@dataclass(frozen=True)
class _Due:
    id: str
    call_id: str
    status: str
    attempt: int  # the one about to be made
    url: str
    secret: str


def send_due(url: str, client: httpx.Client, retry_base_s: float, max_attempts: int) -> int:
    """POST every delivery that is due; returns how many were tried."""
    tried = 0
    while taken := _take_due(url):
        for due in taken:
            _send(url, client, due, retry_base_s, max_attempts)
        tried += len(taken)
        if len(taken) < BATCH:
            break
    return tried


def _take_due(url: str) -> list[_Due]:
    """Due deliveries, each leased to this sender (its next_attempt_at moved past the POST) so that
    another sender, in this process or another, does not send it too."""
    moment = now()
    taken = []
    with session(url) as s:
        rows = s.execute(select(WebhookDelivery.id, WebhookDelivery.call_id, WebhookDelivery.status,
                                WebhookDelivery.attempts, WebhookEndpoint.url, WebhookEndpoint.secret)
                         .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                         .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= moment)
                         .order_by(WebhookDelivery.next_attempt_at).limit(BATCH)).all()
        for delivery_id, call_id, status, attempts, target, secret in rows:
            if s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                       WebhookDelivery.state == "pending",
                                                       WebhookDelivery.next_attempt_at <= moment)
                         .values(next_attempt_at=moment + timedelta(seconds=SEND_LEASE_S))).rowcount:
                taken.append(_Due(delivery_id, call_id, status, attempts + 1, target, secret))
    return taken


def _send(url: str, client: httpx.Client, due: _Due, retry_base_s: float, max_attempts: int) -> None:
    body = json.dumps({"id": due.call_id, "status": due.status}, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(due.secret, body, int(time.time())),
               "Hostscore-Delivery": due.id, "User-Agent": "hostscore-webhooks"}
    code = error = None
    started = time.perf_counter()
    try:
        code = client.post(due.url, content=body, headers=headers, timeout=TIMEOUT_S).status_code
    except httpx.HTTPError as e:
        error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    elapsed_ms = round(1000 * (time.perf_counter() - started))
    moment = now()
    values = {"attempts": due.attempt, "last_status_code": code, "last_error": error, "next_attempt_at": None}
    if code is not None and 200 <= code < 300:
        values |= {"state": "delivered", "delivered_at": moment}
    elif code is not None and 400 <= code < 500 and code != 429:
        values |= {"state": "failed", "last_error": f"the endpoint refused it with HTTP {code}: not retried"}
    elif due.attempt >= max_attempts:
        values |= {"state": "failed", "last_error": f"gave up after {due.attempt} attempts; the last: "
                                                    f"{error or f'HTTP {code}'}"}
    else:
        values["next_attempt_at"] = moment + timedelta(seconds=retry_delay_s(due.attempt, retry_base_s))
    with session(url) as s:
        s.add(WebhookAttempt(delivery_id=due.id, attempted_at=moment, status_code=code, error=error,
                             duration_ms=elapsed_ms))
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id == due.id).values(**values))
