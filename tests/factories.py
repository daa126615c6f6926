"""Build model objects for tests with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from datameta.models import ApiKey, Group, UsedPassword, User
from datameta.security.passwords import hash_password
from datameta.security.tokens import generate_token, hash_token

DEFAULT_PASSWORD = "Good-Password-1"
_counter = itertools.count(1)
# bcrypt is slow on purpose; tests reuse one hash of the default password.
_default_hash = hash_password(DEFAULT_PASSWORD)


def make_group(db: Session, name: str | None = None) -> Group:
    group = Group(name=name or f"Group {next(_counter)}")
    db.add(group)
    db.flush()
    return group


def make_user(
    db: Session,
    *,
    group: Group | None = None,
    email: str | None = None,
    fullname: str | None = None,
    password: str = DEFAULT_PASSWORD,
    site_admin: bool = False,
    group_admin: bool = False,
    site_read: bool = False,
    enabled: bool = True,
) -> User:
    number = next(_counter)
    pwhash = _default_hash if password == DEFAULT_PASSWORD else hash_password(password)
    user = User(
        email=email or f"user{number}@example.org",
        fullname=fullname or f"User {number}",
        pwhash=pwhash,
        group=group or make_group(db),
        site_admin=site_admin,
        group_admin=group_admin,
        site_read=site_read,
        enabled=enabled,
    )
    db.add(user)
    db.flush()
    db.add(UsedPassword(user_id=user.id, pwhash=pwhash))
    db.flush()
    return user


def make_api_key(
    db: Session, user: User, *, label: str = "test key", expires: datetime | None = None
) -> str:
    """Create an API key for ``user`` (valid for a day by default); return its token."""
    token = generate_token()
    db.add(
        ApiKey(
            user_id=user.id,
            token_hash=hash_token(token),
            label=label,
            expires=expires or datetime.now(UTC) + timedelta(days=1),
        )
    )
    db.flush()
    return token
