"""Seeding an empty site with its first group and administrator."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from datameta.logic.users import normalize_email
from datameta.models import ApiKey, Group, UsedPassword, User
from datameta.security.passwords import hash_password
from datameta.security.tokens import hash_token


@dataclass(frozen=True)
class InitialUser:
    fullname: str
    email: str
    password: str
    group_name: str
    api_key: str | None = None


def site_has_users(db: Session) -> bool:
    return db.scalar(select(exists().where(User.id.is_not(None)))) or False


def create_initial_admin(db: Session, initial: InitialUser) -> User | None:
    """Create the first group and a site admin in it; do nothing when users exist."""
    if site_has_users(db):
        return None
    group = db.scalar(select(Group).where(Group.name == initial.group_name))
    if group is None:
        group = Group(name=initial.group_name)
        db.add(group)
    pwhash = hash_password(initial.password)
    user = User(
        email=normalize_email(initial.email),
        fullname=initial.fullname,
        pwhash=pwhash,
        group=group,
        enabled=True,
        site_admin=True,
        group_admin=True,
        site_read=True,
    )
    db.add(user)
    db.flush()
    db.add(UsedPassword(user_id=user.id, pwhash=pwhash))
    if initial.api_key:
        # A key without expiry, for automated deployments that script against the API.
        db.add(
            ApiKey(
                user_id=user.id,
                token_hash=hash_token(initial.api_key),
                label="Created by init script",
            )
        )
    db.flush()
    return user
