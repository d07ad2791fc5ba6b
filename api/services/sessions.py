"""Browser sessions for the pages: signing in with an API key gives a cookie that names the key's id,
signed and timestamped with this deployment's secret. The key itself never reaches the cookie; the key's
row is read on every request, so revoking the key ends its sessions at once."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from ..security import Principal, authenticate, principal_for_key_id

COOKIE = "hostscore_session"
MAX_AGE_S = 12 * 3600  # a working day: a coach signs in once in the morning
SECRET_FILE = "session.secret"


@lru_cache(maxsize=8)
def _serializer(data_dir: Path) -> URLSafeTimedSerializer:
    """The signer, keyed by a secret kept in the data dir (made on first use, readable by the owner
    only), so every process sharing the data dir accepts the same sessions and a restart keeps them."""
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        except FileExistsError:  # another process made it first: use theirs
            pass
    return URLSafeTimedSerializer(path.read_text().strip(), salt="hostscore-session")


def sign_in(session: Session, data_dir: Path, key: str) -> tuple[Principal, str] | None:
    """The principal and a session token for a valid API key; None for any other key."""
    who = authenticate(session, key.strip())
    if who is None:
        return None
    return who, _serializer(Path(data_dir)).dumps(who.key_id)


def principal(session: Session, data_dir: Path, token: str | None) -> Principal | None:
    """Who a session token belongs to, while it is fresh and its key is not revoked."""
    if not token:
        return None
    try:
        key_id = _serializer(Path(data_dir)).loads(token, max_age=MAX_AGE_S)
    except BadSignature:  # also SignatureExpired
        return None
    return principal_for_key_id(session, str(key_id))
