"""Setting passwords, and the one-time tokens mailed for setting them or enrolling TOTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from datameta.errors import ErrorItem, Gone, NotFound, ValidationFailed
from datameta.models import PasswordToken, TokenPurpose, UsedPassword, User
from datameta.security.passwords import (
    PasswordPolicy,
    hash_password,
    password_problems,
    verify_password,
)
from datameta.security.tokens import generate_token, hash_token

USED_BEFORE = "The password has already been used."


def was_used_before(db: Session, user: User, password: str) -> bool:
    hashes = db.scalars(select(UsedPassword.pwhash).where(UsedPassword.user_id == user.id))
    return any(verify_password(password, pwhash) for pwhash in hashes)


def check_new_password(
    db: Session, user: User, password: str, policy: PasswordPolicy, *, field: str = "newPassword"
) -> None:
    """Raise ValidationFailed listing every way ``password`` is not acceptable for ``user``."""
    problems = password_problems(password, policy)
    if not problems and was_used_before(db, user, password):
        problems.append(USED_BEFORE)
    if problems:
        raise ValidationFailed([ErrorItem(message=message, field=field) for message in problems])


def set_password(
    db: Session, user: User, password: str, policy: PasswordPolicy, *, field: str = "newPassword"
) -> None:
    """Check and set a new password, remember it, and end every session of the user."""
    check_new_password(db, user, password, policy, field=field)
    pwhash = hash_password(password)
    user.pwhash = pwhash
    user.session_generation += 1
    db.add(UsedPassword(user_id=user.id, pwhash=pwhash))


def issue_token(db: Session, user: User, purpose: TokenPurpose, lifetime_minutes: int) -> str:
    """A new one-time token for ``user``; earlier ones of the same purpose stop working."""
    db.execute(
        delete(PasswordToken).where(
            PasswordToken.user_id == user.id, PasswordToken.purpose == purpose
        )
    )
    token = generate_token()
    db.add(
        PasswordToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            expires=datetime.now(UTC) + timedelta(minutes=lifetime_minutes),
        )
    )
    return token


def find_token(db: Session, token: str, purpose: TokenPurpose) -> PasswordToken | None:
    """The stored token (looked up by its hash), expired or not; None when unknown."""
    return db.scalar(
        select(PasswordToken).where(
            PasswordToken.token_hash == hash_token(token), PasswordToken.purpose == purpose
        )
    )


def valid_token(db: Session, token: str, purpose: TokenPurpose) -> PasswordToken:
    """The stored token, or NotFound (unknown) / Gone (expired)."""
    stored = find_token(db, token, purpose)
    if stored is None:
        raise NotFound("The link is not valid. Ask for a new one.")
    if stored.expires <= datetime.now(UTC):
        raise Gone("The link has expired.")
    return stored
