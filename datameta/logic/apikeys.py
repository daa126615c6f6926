"""API keys: created with a label and an expiry time, listed and deleted by their owner.

The token is shown once, when the key is made; only its hash is kept. Expiry is a
point in time, so a key made "for today" lasts until that time of today
instead of being expired at once (DataMeta 1.x issue #517).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from datameta.config import Settings
from datameta.errors import ErrorItem, Forbidden, Unauthenticated, ValidationFailed
from datameta.logic.appsettings import LockoutPolicy
from datameta.logic.auth import authenticate, record_success
from datameta.logic.ids import get_visible
from datameta.models import ApiKey, User
from datameta.security import authz
from datameta.security.tokens import generate_token, hash_token
from datameta.telemetry.logs import security_event

LABEL_MAX_LENGTH = 200

TFA_BYPASS_REFUSED = (
    "Two-factor authentication is enabled: create API keys on your account page "
    "after logging in, not with email and password."
)


@dataclass(frozen=True)
class ExpiryRules:
    """How long keys last: ``default_days`` when none is named, at most ``max_days``."""

    default_days: int
    max_days: int


def expiry_rules(settings: Settings) -> ExpiryRules:
    return ExpiryRules(
        default_days=settings.apikey_default_expiration_days,
        max_days=settings.apikey_max_expiration_days,
    )


@dataclass(frozen=True)
class Credentials:
    """An email and password sent in place of a login, to make a first key."""

    email: str
    password: str


def key_owner(
    db: Session,
    caller: User | None,
    credentials: Credentials | None,
    *,
    second_factor_passed: bool,
    tfa_enabled: bool,
    lockout: LockoutPolicy,
) -> User:
    """Who a new API key is for: the logged-in ``caller``, or whom ``credentials`` name.

    With a second factor required, neither a caller who has not passed it nor an
    email and password (only the first factor) may make a key: no bypass. A failed
    password check is recorded in ``db``; the caller must commit despite the error.
    """
    if caller is not None:
        if tfa_enabled and not second_factor_passed:
            raise Forbidden(TFA_BYPASS_REFUSED)
        return caller
    if credentials is None:
        raise Unauthenticated("This needs a valid API key, a login session, or email and password.")
    if tfa_enabled:
        raise Forbidden(TFA_BYPASS_REFUSED)
    user = authenticate(db, credentials.email, credentials.password, lockout)
    record_success(db, user)
    security_event(
        "login", f"{user.site_id} logged in (password, to make an API key)", subject=user.site_id
    )
    return user


def _invalid(message: str, field: str = "expires") -> ValidationFailed:
    return ValidationFailed([ErrorItem(message=message, field=field)])


def parse_expiry(text: str, rules: ExpiryRules, now: datetime) -> datetime:
    """An expiry time from ISO 8601 text; naive times are UTC.

    A bare date means "through that day", and no further than the maximum.
    """
    text = text.strip()
    try:
        if len(text) == 10:  # YYYY-MM-DD
            day = date.fromisoformat(text)
            end_of_day = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
            latest = now + timedelta(days=rules.max_days)
            return min(end_of_day, latest) if day <= latest.date() else end_of_day
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(
            "The expiration date must be an ISO 8601 date-time, e.g. 2030-01-31T12:00:00."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_expiry(expires: datetime, rules: ExpiryRules, now: datetime) -> None:
    """Refuse an expiry in the past or beyond the maximum period."""
    if expires <= now:
        raise _invalid("The expiration date must be in the future.")
    if expires > now + timedelta(days=rules.max_days):
        raise _invalid(
            "The defined expiration date exceeded the max allowed expiration period, "
            f"which is {rules.max_days} days."
        )


def default_expiry(rules: ExpiryRules, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + timedelta(days=rules.default_days)


def has_expired(key: ApiKey, now: datetime | None = None) -> bool:
    return key.expires is not None and key.expires <= (now or datetime.now(UTC))


def create_api_key(
    db: Session, user: User, label: str, expires: str | datetime | None, rules: ExpiryRules
) -> tuple[ApiKey, str]:
    """A new key for ``user``; answer the key and its token (shown only this once)."""
    now = datetime.now(UTC)
    label = label.strip()
    if not label:
        raise _invalid("Give the key a label.", field="label")
    if len(label) > LABEL_MAX_LENGTH:
        raise _invalid(f"The label may have at most {LABEL_MAX_LENGTH} characters.", "label")
    if expires is None or expires == "":
        moment = default_expiry(rules, now)
    elif isinstance(expires, str):
        moment = parse_expiry(expires, rules, now)
    else:
        moment = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    check_expiry(moment, rules, now)
    token = generate_token()
    key = ApiKey(user_id=user.id, token_hash=hash_token(token), label=label, expires=moment)
    db.add(key)
    db.flush()
    security_event(
        "apikey_created",
        f"API key {key.uuid} ({label!r}) created for {user.site_id}",
        subject=user.site_id,
        key=str(key.uuid),
        expires=moment.isoformat(),
    )
    return key, token


def list_api_keys(db: Session, actor: User, user_id: str) -> list[ApiKey]:
    """The keys of a user, oldest first: only the user themselves may list them."""
    # Others' keys are invisible to everyone, site admins included.
    owner = get_visible(db, User, user_id, lambda owner: authz.can_manage_api_keys(actor, owner))
    return list(
        db.scalars(select(ApiKey).where(ApiKey.user_id == owner.id).order_by(ApiKey.created))
    )


def delete_api_key(db: Session, actor: User, key_id: str) -> None:
    """Delete one of the actor's own keys."""
    key = get_visible(
        db, ApiKey, key_id, lambda key: authz.can_manage_api_keys(actor, key.user), what="API key"
    )
    db.execute(delete(ApiKey).where(ApiKey.id == key.id))
    security_event(
        "apikey_deleted",
        f"API key {key.uuid} of {key.user.site_id} deleted by {actor.site_id}",
        subject=key.user.site_id,
        key=str(key.uuid),
    )
