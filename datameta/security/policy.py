"""Pyramid wiring of authentication: who is calling, by API key or session cookie.

An ``Authorization: Bearer`` header takes precedence over the cookie: a request
that presents an invalid key is unauthenticated even if it also carries a valid
session. A session names its user and is valid only while the user is enabled,
still in the same group, and has not changed the password since (every such
change bumps ``User.session_generation``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED, Allowed, Denied
from sqlalchemy import Engine, Integer, Table, bindparam, inspect, or_, update
from sqlalchemy import column as sql_column
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.orm.util import identity_key

from datameta.db import ISOLATION_LEVEL_KEY, PreparedStatement
from datameta.models import ApiKey, User
from datameta.models.metadata import note_definitions_version
from datameta.security.tokens import hash_token
from datameta.telemetry.logs import note_user

AUTHENTICATED = "authenticated"

SESSION_USER = "user_id"
SESSION_GROUP = "group_id"
SESSION_GENERATION = "generation"
# A password was right but the second factor is still to come.
SESSION_PREAUTH_USER = "preauth_user_id"
SESSION_PREAUTH_UNTIL = "preauth_until"
PREAUTH_SECONDS = 300
# How precisely a user's last API use is kept: writing it on every request would
# make concurrent requests of one user contend for their row.
API_USE_PRECISION = timedelta(minutes=5)


def bearer_token(request: Request) -> str | None:
    authorization = request.authorization
    if authorization is None or authorization.authtype.lower() != "bearer":
        return None
    return str(authorization.params or "").strip()


# The key and its user in one round trip, and in passing the version of the metadata
# definitions, which most API calls need next. Prepared once per connection (the lookup
# runs before nearly every API call). Its row becomes a User without the ORM's loading,
# whose set-up for a row of 18 columns cost more than the query.
_users = cast(Table, User.__table__)
_USER_COLUMNS = list(_users.c)
_USER_KEYS = [column.key for column in _USER_COLUMNS]
_KEY_AND_USER = PreparedStatement(
    "datameta_key_and_user",
    f"""
    SELECT apikeys.expires, (SELECT version FROM metadata_version),
        {", ".join(f"users.{column.name}" for column in _USER_COLUMNS)}
    FROM apikeys JOIN users ON users.id = apikeys.user_id
    WHERE apikeys.token_hash = :token_hash
    """,  # noqa: S608 (only the model's column names are formatted in)
    [("token_hash", "text")],
    [ApiKey.__table__.c.expires, sql_column("version", Integer), *_USER_COLUMNS],
)


def _user_of(db: Session, values: Sequence[Any], *, attach: bool) -> User:
    """The User of a row of ``_USER_COLUMNS``, as if the ORM had loaded it into ``db``.

    The session's own object where it holds one for the row. Else a new one, added to
    the session only with ``attach``: a detached one costs less, and serves a caller
    that reads its columns only, never a relationship (the express lane).
    """
    existing = db.identity_map.get(identity_key(User, values[0]))
    if existing is not None:
        return existing
    user = _USER_CLASS.new_instance()
    # As the ORM's loading fills an object: straight into its state, without events.
    instance_dict(user).update(zip(_USER_KEYS, values, strict=True))
    make_transient_to_detached(user)
    if attach:
        db.add(user)
    return user


_USER_CLASS = inspect(User).class_manager


@dataclass(frozen=True)
class KeyHolder:
    """Who holds an API key that is valid now, and what its request must do about it."""

    user: User
    # The version of the metadata definitions, read in the same statement.
    definitions_version: int
    # The user's last API use is stale: the request notes this one once it succeeded.
    use_to_note: datetime | None


def key_holder(db: Session, token: str, now: datetime, *, attach: bool = True) -> KeyHolder | None:
    """The enabled user of the unexpired key ``token``, in one round trip; else None.

    Shared by the security policy and the express lane (``datameta.api.express``), which
    takes the user detached (see ``_user_of``).
    """
    found = _KEY_AND_USER.rows(db.connection(), {"token_hash": hash_token(token)})
    if not found:
        return None
    expires, definitions_version, *user_values = found[0]
    user = _user_of(db, user_values, attach=attach)
    if (expires is not None and expires <= now) or not user.enabled:
        return None
    stale = user.last_api_use is None or now - user.last_api_use >= API_USE_PRECISION
    return KeyHolder(user, definitions_version, now if stale else None)


def user_for_api_key(request: Request, token: str) -> User | None:
    holder = key_holder(request.dbsession, token, datetime.now(UTC))
    if holder is None:
        return None
    # The transaction's snapshot holds for all its statements, unless a route asked for a
    # lower isolation level: then the definitions read their version when they are read.
    if ISOLATION_LEVEL_KEY not in request.environ:
        note_definitions_version(request.dbsession, holder.definitions_version)
    if holder.use_to_note is not None:
        note_api_use(request, holder.user, holder.use_to_note)
    return holder.user


def prepare_key_lookup(db: Session) -> None:
    """Look up a key that no one holds, so that the lookup of every request finds its SQL
    compiled and cached: compiling it (with the ORM's part) costs a first request about
    40 ms of CPU. Run at startup, before the server forks its workers."""
    _KEY_AND_USER.rows(db.connection(), {"token_hash": _NO_KEY_HASH})


# No key is stored under it: keys are random tokens of 32 bytes, never the empty string.
_NO_KEY_HASH = hash_token("")


log = logging.getLogger(__name__)

# Written only where it is stale: of many first requests at once, one writes, the rest
# find it fresh (READ COMMITTED re-checks the condition after waiting for the row).
_NOTE_API_USE = (
    update(_users)
    .where(
        _users.c.id == bindparam("user_id"),
        or_(_users.c.last_api_use.is_(None), _users.c.last_api_use < bindparam("stale_before")),
    )
    .values(last_api_use=bindparam("used_at"))
)


def note_api_use(request: Request, user: User, now: datetime) -> None:
    """Note that ``user`` used the API ``now``, in a transaction of its own once the request
    has answered successfully.

    Not in the request's SERIALIZABLE transaction: there, concurrent first requests of
    one user (a script's threads sharing a key) lost races over the user's row and
    could answer 409. Afterwards, on a connection of its own, the write cannot make a
    request fail; if it fails itself, the next request notes the use. Where the request
    runs in a transaction handed in from outside the app (tests), it is written there.
    """
    if request.environ.get("app.dbsession") is not None:
        user.last_api_use = now
        return
    engine = request.registry["dbengine"]
    user_id = user.id

    def after_answer(_request: Request, response: Response) -> None:
        # A use that succeeded, as when it was written in the request's transaction,
        # which an error answer rolls back.
        if response.status_int < 400:
            write_api_use(engine, user_id, now)

    # Response callbacks run once the transaction has ended and its connection is back.
    request.add_response_callback(after_answer)


def write_api_use(engine: Engine, user_id: int, now: datetime) -> None:
    parameters = {"user_id": user_id, "used_at": now, "stale_before": now - API_USE_PRECISION}
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(_NOTE_API_USE, parameters)
    except SQLAlchemyError:
        log.warning("could not note the API use of user %s", user_id, exc_info=True)


def user_for_session(request: Request) -> User | None:
    session = request.session
    user_id = session.get(SESSION_USER)
    if user_id is None:
        return None
    user = request.dbsession.get(User, user_id)
    valid = (
        user is not None
        and user.enabled
        and user.group_id == session.get(SESSION_GROUP)
        and user.session_generation == session.get(SESSION_GENERATION)
    )
    if not valid:
        session.invalidate()
        return None
    return user


def authenticated_user(request: Request) -> User | None:
    """The caller: by API key when a Bearer header is present, else by session."""
    user = _authenticate(request)
    if user is not None:
        note_user(user.site_id)  # the request's log lines name the user from here on
    return user


def _authenticate(request: Request) -> User | None:
    token = bearer_token(request)
    if token is not None:
        request.environ["datameta.auth_method"] = "apikey"
        return user_for_api_key(request, token)
    if request.cookies.get(request.settings.session_cookie_name) is None:
        return None
    request.environ["datameta.auth_method"] = "session"
    return user_for_session(request)


def start_session(request: Request, user: User) -> None:
    """Log ``user`` in: a fresh session id (no fixation) and a fresh CSRF token."""
    session = request.session
    session.invalidate()
    session[SESSION_USER] = user.id
    session[SESSION_GROUP] = user.group_id
    session[SESSION_GENERATION] = user.session_generation
    session.new_csrf_token()


def start_preauth(request: Request, user: User) -> None:
    """The password was right; the second factor must follow within five minutes."""
    session = request.session
    session.invalidate()
    session[SESSION_PREAUTH_USER] = user.id
    session[SESSION_PREAUTH_UNTIL] = time.time() + PREAUTH_SECONDS
    session.new_csrf_token()


def preauth_user(request: Request) -> User | None:
    session = request.session
    user_id = session.get(SESSION_PREAUTH_USER)
    if user_id is None or session.get(SESSION_PREAUTH_UNTIL, 0) < time.time():
        return None
    user = request.dbsession.get(User, user_id)
    return user if user is not None and user.enabled else None


def end_session(request: Request) -> None:
    request.session.invalidate()


def uses_session_auth(request: Request) -> bool:
    return request.environ.get("datameta.auth_method") == "session"


class SecurityPolicy:
    """Identity from API key or session; views ask only for ``authenticated``.

    Finer decisions (whose data, which role) are made by ``datameta.security.authz``
    in the logic, where the objects are at hand.
    """

    def identity(self, request: Request) -> User | None:
        return request.user

    def authenticated_userid(self, request: Request) -> str | None:
        user = request.user
        return None if user is None else str(user.uuid)

    def permits(self, request: Request, context: Any, permission: str) -> Allowed | Denied:
        if permission == AUTHENTICATED and request.user is not None:
            return Allowed("authenticated")
        return Denied(f"{permission} needs a logged-in user")

    def remember(self, request: Request, userid: Any, **kw: Any) -> list:
        return []  # sessions are started with start_session; the cookie is the session's

    def forget(self, request: Request, **kw: Any) -> list:
        end_session(request)
        return []


def csrf_check_applies(request: Request) -> bool:
    """Check CSRF tokens for pages, and for API calls made with the session cookie.

    API calls that authenticate by API key carry no ambient authority, so a
    forged cross-site request gains nothing; scripts need not fetch a token.
    """
    if request.path.startswith("/api/"):
        return (
            bearer_token(request) is None
            and request.cookies.get(request.settings.session_cookie_name) is not None
        )
    return True


def includeme(config: Configurator) -> None:
    config.add_request_method(authenticated_user, "user", reify=True)
    config.set_security_policy(SecurityPolicy())
    # Secure by default: every view needs a login unless it says otherwise.
    config.set_default_permission(AUTHENTICATED)
    config.set_default_csrf_options(require_csrf=True, callback=csrf_check_applies)


__all__ = ["AUTHENTICATED", "NO_PERMISSION_REQUIRED", "SecurityPolicy"]
