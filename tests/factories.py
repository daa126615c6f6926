"""Build model objects for tests with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datameta.models import ApiKey, AppSetting, Group, RegistrationRequest, UsedPassword, User
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


def set_app_setting(db: Session, key: str, value: Any) -> None:
    """Change an application setting inside the test's transaction."""
    db.scalar(select(AppSetting).where(AppSetting.key == key)).value = value
    db.flush()


def add_request(
    db: Session,
    *,
    group: Group | None = None,
    new_group_name: str | None = None,
    email: str = "applicant@example.org",
) -> RegistrationRequest:
    """A pending registration request for an existing group, or else a new one."""
    registration = RegistrationRequest(
        fullname="Applicant Name",
        email=email,
        group=group,
        new_group_name=None if group else (new_group_name or "Brand New Lab"),
    )
    db.add(registration)
    db.flush()
    return registration


def pending(db: Session, email: str) -> RegistrationRequest | None:
    """The pending registration request with this email, if any."""
    return db.scalar(select(RegistrationRequest).where(RegistrationRequest.email == email))
