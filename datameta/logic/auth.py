"""Signing in: password check with lockout, the second factor, password reset and change.

A failed login looks the same whatever the cause (unknown email, disabled or
locked account, wrong password), so nobody learns which accounts exist. A
lockout ends by itself after a cooldown: guessing can delay a user, never shut
them out for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from datameta.config import Settings
from datameta.errors import (
    ErrorItem,
    Forbidden,
    NotFound,
    Unauthenticated,
    ValidationFailed,
    WrongPassword,
)
from datameta.logic.appsettings import LockoutPolicy, lockout_policy, password_policy
from datameta.logic.ids import find_by_id
from datameta.logic.mails import FORGOT_TOKEN, Outbox, mail_password_link, token_lifetime_minutes
from datameta.logic.passwords import find_token, issue_token, set_password, valid_token
from datameta.logic.users import find_user_by_email, get_user
from datameta.models import LoginAttempt, PasswordToken, TokenPurpose, User
from datameta.security import authz
from datameta.security.passwords import PasswordPolicy, hash_password, verify_password
from datameta.security.tokens import generate_token
from datameta.security.totp import decrypt_secret, encrypt_secret, verify_code
from datameta.telemetry.logs import security_event

LOGIN_FAILED = (
    "Wrong email or password, or the account is locked for a while after too many failed attempts."
)
WRONG_CODE = "The code is not correct. Enter the current code from your authenticator app."
# A wrong current password and a locked account answer alike, as at the login.
WRONG_CURRENT_CREDENTIAL = (
    "The current password is not correct, or the account is locked for a while after too many "
    "failed attempts."
)

# Where a session records that both factors passed (or that there is only one).
TFA_PASSED_SESSION_KEY = "tfa_passed"


@cache
def _dummy_hash() -> str:
    # Checking a password against this costs what checking a real one costs,
    # so unknown emails answer as slowly as known ones.
    return hash_password(generate_token())


def is_locked(user: User, now: datetime | None = None) -> bool:
    """Whether a failed-login lockout of ``user`` is still running."""
    now = now or datetime.now(UTC)
    return user.locked_until is not None and user.locked_until > now


def lock_end(user: User, now: datetime | None = None) -> datetime | None:
    """When the running lockout of ``user`` ends; None when there is none."""
    return user.locked_until if is_locked(user, now) else None


def may_log_in(user: User) -> bool:
    """Whether ``user`` may log in at all now: enabled and not locked out."""
    return user.enabled and not is_locked(user)


def record_failed_attempt(db: Session, user: User, policy: LockoutPolicy) -> None:
    """Count a failed login of ``user``; lock the account once the limit is reached."""
    now = datetime.now(UTC)
    db.add(LoginAttempt(user_id=user.id, timestamp=now))
    db.flush()
    since = now - timedelta(minutes=policy.window_minutes)
    failures = db.execute(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.user_id == user.id, LoginAttempt.timestamp > since)
    ).scalar_one()
    if policy.max_failed_attempts > 0 and failures >= policy.max_failed_attempts:
        user.locked_until = now + timedelta(minutes=policy.duration_minutes)
        # The lock uses these attempts up: after the cooldown the user has the full
        # number of tries again instead of being locked by the next single mistake.
        _clear_attempts(db, user)
        security_event(
            "lockout",
            f"account {user.email} ({user.site_id}) locked until {user.locked_until.isoformat()} "
            f"after {failures} failed login attempts",
            warning=True,
            subject=user.site_id,
            email=user.email,
            locked_until=user.locked_until.isoformat(),
            failures=failures,
        )


def _clear_attempts(db: Session, user: User) -> None:
    db.execute(delete(LoginAttempt).where(LoginAttempt.user_id == user.id))


def record_success(db: Session, user: User) -> None:
    """Forget earlier failures and end a lockout (a complete login, an unlock, a reset)."""
    _clear_attempts(db, user)
    user.locked_until = None


def record_login(db: Session, user: User, factors: str) -> None:
    """A complete login (password and, where required, second factor): admins see when.

    ``factors`` names them, for the log.
    """
    record_success(db, user)
    user.last_login = datetime.now(UTC)
    security_event(
        "login", f"{user.site_id} logged in ({factors})", subject=user.site_id, factors=factors
    )


def _login_failed(email: str, user: User | None, reason: str) -> None:
    # The log tells the reason; the answer never does (see LOGIN_FAILED).
    security_event(
        "login_failed",
        f"failed login for {email!r}: {reason}",
        warning=True,
        subject=user.site_id if user is not None else None,
        email=email[:320],
        reason=reason,
    )


def authenticate(db: Session, email: str, password: str, policy: LockoutPolicy) -> User:
    """The user these credentials name, or Unauthenticated (always with the same message).

    Failed attempts of known users are recorded in ``db``: the caller must let
    the transaction commit (answer the error rather than raise it) to keep them.
    """
    user = find_user_by_email(db, email) if email.strip() else None
    pwhash = user.pwhash if user is not None else None
    # Always one bcrypt check, so that timing does not tell which emails exist.
    password_ok = verify_password(password, pwhash or _dummy_hash()) and pwhash is not None
    if user is None or not may_log_in(user):
        reason = "unknown email" if user is None else "account disabled or locked"
        _login_failed(email, user, reason)
        raise Unauthenticated(LOGIN_FAILED)
    if not password_ok:
        _login_failed(email, user, "wrong password")
        record_failed_attempt(db, user, policy)
        raise Unauthenticated(LOGIN_FAILED)
    return user


def needs_tfa_enrolment(user: User, tfa_enabled: bool) -> bool:
    return tfa_enabled and user.tfa_secret_encrypted is None


class LoginStep(Enum):
    """What follows a correct password."""

    DONE = "done"  # no second factor required: the login is complete
    SECOND_FACTOR = "second_factor"  # the TOTP code comes next
    ENROLMENT_NEEDED = "enrolment_needed"  # no second factor yet: set one up by a reset first


def after_password(db: Session, user: User, *, tfa_enabled: bool) -> LoginStep:
    """The next step of ``user``'s login once their password was right."""
    if not tfa_enabled:
        record_login(db, user, "password")
        return LoginStep.DONE
    if needs_tfa_enrolment(user, tfa_enabled):
        return LoginStep.ENROLMENT_NEEDED
    return LoginStep.SECOND_FACTOR


def totp_secret(user: User, encrypt_key: str) -> str | None:
    """The TOTP secret of ``user``; None without one or when ``encrypt_key`` cannot read it."""
    encrypted = user.tfa_secret_encrypted
    return decrypt_secret(encrypted, encrypt_key) if encrypted else None


def verify_second_factor(
    db: Session, user: User, code: str, encrypt_key: str, policy: LockoutPolicy
) -> None:
    """Accept the current TOTP ``code`` of ``user``; a wrong one counts as a failed login."""
    if not may_log_in(user):
        _login_failed(user.email, user, "account disabled or locked, at the second factor")
        raise Unauthenticated(LOGIN_FAILED)
    # No secret (reset meanwhile) or one the current key cannot read: no code can match.
    secret = totp_secret(user, encrypt_key)
    if secret is None or not verify_code(secret, code):
        _login_failed(user.email, user, "wrong second-factor code")
        record_failed_attempt(db, user, policy)
        if is_locked(user):
            raise Unauthenticated(LOGIN_FAILED)
        raise Unauthenticated([ErrorItem(message=WRONG_CODE, field="code")])
    record_login(db, user, "password and second factor")


def unlock_user(db: Session, actor: User, user_id: str) -> User:
    """End a user's failed-login lockout before its cooldown is over."""
    user = get_user(db, actor, user_id)
    if not authz.can_unlock(actor, user):
        raise Forbidden("You may not unlock this account.")
    record_success(db, user)
    security_event(
        "unlock", f"account {user.site_id} unlocked by {actor.site_id}", subject=user.site_id
    )
    return user


def reset_second_factor(db: Session, actor: User, user_id: str) -> User:
    """Forget a user's TOTP secret; they enrol again through a password reset."""
    user = get_user(db, actor, user_id)
    if not authz.can_reset_second_factor(actor, user):
        raise Forbidden("Only site admins may reset a second factor.")
    user.tfa_secret_encrypted = None
    security_event(
        "second_factor_reset",
        f"second factor of {user.site_id} reset by {actor.site_id}",
        subject=user.site_id,
    )
    return user


# Passwords


@dataclass(frozen=True)
class PasswordRules:
    """What setting a password obeys: the policy, the lockout, and what follows a change."""

    policy: PasswordPolicy
    lockout: LockoutPolicy
    tfa_enabled: bool  # a user without a second factor must enrol one next
    token_minutes: int  # how long the link that enrols it works


def password_rules(settings: Settings, values: dict[str, Any]) -> PasswordRules:
    """The password rules from the site's settings and its app settings ``values``."""
    return PasswordRules(
        policy=password_policy(values),
        lockout=lockout_policy(values),
        tfa_enabled=settings.tfa_enabled,
        token_minutes=values["security_password_token_expiry_minutes"],
    )


def send_reset_link(db: Session, email: str, outbox: Outbox) -> None:
    """Mail a password reset link to the enabled user with this email; to nobody else."""
    user = find_user_by_email(db, email)
    if user is None or not user.enabled:
        return
    _mail_reset_link(db, user, outbox)


def _mail_reset_link(db: Session, user: User, outbox: Outbox) -> None:
    lifetime = token_lifetime_minutes(outbox)
    token = issue_token(db, user, TokenPurpose.PASSWORD_RESET, lifetime)
    mail_password_link(outbox, FORGOT_TOKEN, user, token)


def reset_token_user(db: Session, token: str) -> User:
    """The user a valid reset token belongs to; NotFound (unknown) or Gone (expired)."""
    stored = valid_token(db, token, TokenPurpose.PASSWORD_RESET)
    if not stored.user.enabled:
        raise NotFound("The link is not valid. Ask for a new one.")
    return stored.user


def renew_reset_link(db: Session, token: str, outbox: Outbox) -> bool:
    """Mail a fresh link in place of an expired ``token``, which stops working.

    False (nothing sent) while ``token`` still works; NotFound when it is
    unknown or its user disabled.
    """
    stored = find_token(db, token, TokenPurpose.PASSWORD_RESET)
    if stored is None or not stored.user.enabled:
        raise NotFound("The link is not valid. Ask for a new one.")
    if stored.expires > datetime.now(UTC):
        return False
    _mail_reset_link(db, stored.user, outbox)
    return True


def _tfa_setup_token(db: Session, user: User, rules: PasswordRules) -> str:
    """A token for ``/settfa`` when the user must now enrol a second factor, else ""."""
    if not needs_tfa_enrolment(user, rules.tfa_enabled):
        return ""
    return issue_token(db, user, TokenPurpose.TFA_SETUP, rules.token_minutes)


def reset_password(
    db: Session,
    token: str,
    new_password: str,
    rules: PasswordRules,
    *,
    field: str = "newPassword",
) -> str:
    """Set a password with a reset token; answer the TFA setup token or ""."""
    user = reset_token_user(db, token)
    set_password(db, user, new_password, rules.policy, field=field)
    db.execute(
        delete(PasswordToken).where(
            PasswordToken.user_id == user.id,
            PasswordToken.purpose == TokenPurpose.PASSWORD_RESET,
        )
    )
    # Proving control of the mailbox ends a lockout as well.
    record_success(db, user)
    return _tfa_setup_token(db, user, rules)


def change_password(
    db: Session,
    actor: User,
    user_id: str,
    old_password: str,
    new_password: str,
    rules: PasswordRules,
    *,
    field: str = "newPassword",
) -> str:
    """A user changes their own password; answer the TFA setup token or "".

    A wrong current password counts as a failed login, so that a stolen API key
    or an unattended session cannot be used to guess the password; the caller
    must commit despite the WrongPassword error to keep the count.
    """
    user = find_by_id(db, User, user_id)
    # DataMeta 1.x answers 403 for another and for an unknown user alike.
    if user is None or not authz.can_change_password(actor, user):
        raise Forbidden("You may change only your own password.")
    if is_locked(user):
        raise WrongPassword(WRONG_CURRENT_CREDENTIAL)
    if not verify_password(old_password, user.pwhash):
        record_failed_attempt(db, user, rules.lockout)
        raise WrongPassword(WRONG_CURRENT_CREDENTIAL)
    set_password(db, user, new_password, rules.policy, field=field)
    return _tfa_setup_token(db, user, rules)


# Enrolling the second factor


def tfa_setup_user(db: Session, token: str) -> User:
    """The user a valid TFA setup token belongs to; NotFound or Gone otherwise."""
    stored = valid_token(db, token, TokenPurpose.TFA_SETUP)
    if not stored.user.enabled:
        raise NotFound("The link is not valid.")
    return stored.user


def complete_tfa_setup(db: Session, token: str, secret: str, code: str, encrypt_key: str) -> User:
    """Store ``secret`` (encrypted) once ``code`` proves the user's app has it."""
    user = tfa_setup_user(db, token)
    if not verify_code(secret, code):
        raise ValidationFailed([ErrorItem(message=WRONG_CODE, field="code")])
    user.tfa_secret_encrypted = encrypt_secret(secret, encrypt_key)
    db.execute(
        delete(PasswordToken).where(
            PasswordToken.user_id == user.id, PasswordToken.purpose == TokenPurpose.TFA_SETUP
        )
    )
    return user
