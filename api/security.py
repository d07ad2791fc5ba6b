"""API keys, tenants and roles. A key is ``hs_<id>_<secret>``: the id finds the row, the secret is
checked against its stored SHA-256 in constant time; the key itself is shown once and never stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import ApiKey, Tenant, now

ROLES = ("platform", "supervisor", "admin")
# What each role may do: platforms post and read calls; supervisors read, review and report;
# admins manage keys, webhooks and retention, and may do everything else.
PERMISSIONS = {
    "platform": {"post", "read"},
    "supervisor": {"read", "review", "report"},
    "admin": {"post", "read", "review", "report", "admin"},
}
PREFIX = "hs"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant every query is scoped to, and the key's role."""

    tenant_id: str
    tenant: str
    key_id: str
    role: str

    def may(self, action: str) -> bool:
        return action in PERMISSIONS[self.role]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, tenant_name: str, role: str) -> str:
    """A new key for ``tenant_name`` (created if new) with ``role``; returns the key, shown once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not tenant_name.strip():
        raise ValueError("tenant name must not be empty")
    tenant = session.scalar(select(Tenant).where(Tenant.name == tenant_name))
    if tenant is None:
        tenant = Tenant(id=str(uuid.uuid4()), name=tenant_name)
        session.add(tenant)
        session.flush()
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    session.add(ApiKey(id=key_id, tenant_id=tenant.id, role=role, secret_hash=_hash(secret)))
    return f"{PREFIX}_{key_id}_{secret}"


def list_keys(session: Session) -> list[tuple[ApiKey, Tenant]]:
    return list(session.execute(select(ApiKey, Tenant).join(Tenant).order_by(Tenant.name, ApiKey.created_at)).tuples())


def revoke_key(session: Session, key_id: str) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = now()
    return True


# A key and its tenant as columns: every request checks one, and mapped objects cost it more than the query
_KEY = select(ApiKey.id, ApiKey.secret_hash, ApiKey.revoked_at, ApiKey.role, Tenant.id.label("tenant_id"),
              Tenant.name.label("tenant_name")).join(Tenant)


def authenticate(session: Session, key: str) -> Principal | None:
    """The principal for a presented key, or None for anything else (malformed, unknown, revoked,
    wrong secret): the caller cannot tell which."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    row = session.execute(_KEY.where(ApiKey.id == parts[1])).first()
    expected = row.secret_hash if row else _hash("")
    matches = hmac.compare_digest(expected, _hash(parts[2]))  # compared whether or not the id exists
    if row is None or not matches or row.revoked_at is not None:
        return None
    return Principal(row.tenant_id, row.tenant_name, row.id, row.role)


def principal_for_key_id(session: Session, key_id: str) -> Principal | None:
    """The principal of a key already proven (a signed browser session names it), unless revoked."""
    row = session.execute(_KEY.where(ApiKey.id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.tenant_id, row.tenant_name, row.id, row.role)
