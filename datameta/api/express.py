"""The express lane: the calls scripts make most, served without Pyramid's machinery.

Staging a record is the call a script makes thousands of times. Through Pyramid it
passes the router, eight tweens, the view derivers, the transaction manager and the
renderer, which cost it more CPU than its own work. This WSGI layer in front of the
app serves such a call directly when it is an ordinary one: an API key, a JSON body of
plain text within the size limit, no query string. Its steps are the app's own
functions: the key lookup of the security policy, the body's validator compiled from
openapi.yaml, the operation's logic, the security headers and the request's log line
and metrics.

Everything else goes to the app unchanged, and so does every request the lane finds
anything wrong with (no key or an invalid one, a body the spec or a column's rules
reject, a lost race, a dropped connection): the lane rolls back what it did and hands
the request on, so that the app answers it, error list and all, exactly as before. An
error is never answered here, and nothing is written unless it answers 2xx.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.router import Router
from sqlalchemy.orm import Session

from datameta.config import Settings, settings_of
from datameta.models import User
from datameta.models.metadata import note_definitions_version
from datameta.routes import API
from datameta.security.headers import security_headers
from datameta.security.policy import key_holder, write_api_use
from datameta.security.text import is_unstorable
from datameta.telemetry import REQUEST_ID_HEADER, record_request, request_id_of
from datameta.telemetry.logs import note_user, request_context

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
# What the lane answers with; the app's JSON renderer writes the same bytes.
_ENCODE = json.JSONEncoder().encode
_BEARER = re.compile(r"bearer[ \t]+(\S+)[ \t]*", re.IGNORECASE)
# An id in a path that the lane takes as it is: anything else (escapes, other
# characters) the app decodes and checks itself.
_PLAIN_ID = r"[A-Za-z0-9_-]{1,64}"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass
class ExpressCall:
    """What an express operation gets: the caller, its session and the parsed request."""

    db: Session
    user: User
    body: Any
    params: Mapping[str, str]
    registry: Registry
    settings: Settings
    environ: Environ
    # What to do once the transaction has committed (never after a rollback).
    committed: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        self.committed.append(action)

    def route_url(self, route_name: str, **params: str) -> str:
        """The URL of a route, as the app's ``request.route_url`` makes it."""
        request = Request(self.environ)
        request.registry = self.registry
        return str(request.route_url(route_name, **params))


Operation = Callable[[ExpressCall], Any]


@dataclass(frozen=True)
class ExpressRoute:
    """One operation the lane may serve: its method and path, as the app's route has them."""

    route_name: str
    method: str
    path: re.Pattern[str]
    # The operation in openapi.yaml whose request body schema the body must meet.
    spec_path: str
    operation: Operation


class HandOver(Exception):
    """The lane does not serve this request: the app does, from the start."""


class ExpressLane:
    """A WSGI app that serves ``routes`` when it can, and hands every request to ``app``
    that it does not serve."""

    def __init__(self, app: Router, routes: Iterable[ExpressRoute]) -> None:
        self.app = app
        self.registry = app.registry
        self.settings = settings_of(app.registry)
        self.routes = {(route.method, route.path.pattern): route for route in routes}
        self._headers = list(security_headers(self.settings).items())
        self._body_checks = {
            key: body_checker(app.registry, route.spec_path, route.method)
            for key, route in self.routes.items()
        }

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        found = self._route(environ)
        if found is None:
            return self.app(environ, start_response)
        route, params = found
        request_id = request_id_of(environ.get("HTTP_X_REQUEST_ID"))
        fields = {"request_id": request_id, "client": environ.get("REMOTE_ADDR", "")}
        started = time.perf_counter()
        try:
            body = self._read_body(environ, route)
        except HandOver:
            return self.app(environ, start_response)
        with request_context(fields):
            try:
                answer = self._serve(environ, route, params, body)
            except HandOver:
                # The app reads the body again, from the start.
                environ["wsgi.input"] = io.BytesIO(body)
                return self.app(environ, start_response)
            record_request(
                route.route_name, route.method, 200, time.perf_counter() - started, fields
            )
        headers = [
            ("Content-Type", JSON_TYPE),
            ("Content-Length", str(len(answer))),
            *self._headers,
            (REQUEST_ID_HEADER, request_id),
        ]
        start_response("200 OK", headers)
        return [answer]

    def _route(self, environ: Environ) -> tuple[ExpressRoute, dict[str, str]] | None:
        if environ.get("QUERY_STRING") or "HTTP_AUTHORIZATION" not in environ:
            return None
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        for (route_method, _), route in self.routes.items():
            if route_method != method:
                continue
            matched = route.path.fullmatch(path)
            if matched is not None:
                return route, matched.groupdict()
        return None

    def _read_body(self, environ: Environ, route: ExpressRoute) -> bytes:
        """The request's JSON body, read whole; HandOver before reading anything unusual."""
        content_type = environ.get("CONTENT_TYPE", "")
        length = environ.get("CONTENT_LENGTH", "")
        if (
            content_type != JSON_TYPE
            or not length.isdigit()
            or not 0 < int(length) <= self.settings.max_body_bytes
            or "HTTP_TRANSFER_ENCODING" in environ
        ):
            raise HandOver
        body = environ["wsgi.input"].read(int(length))
        if len(body) != int(length):
            # Cut short: the app answers what a cut body deserves.
            environ["wsgi.input"] = io.BytesIO(body)
            raise HandOver
        return body

    def _serve(
        self, environ: Environ, route: ExpressRoute, params: dict[str, str], body: bytes
    ) -> bytes:
        token = _bearer_token(environ["HTTP_AUTHORIZATION"])
        document = _plain_json(body)
        if token is None or not self._body_checks[(route.method, route.path.pattern)](document):
            raise HandOver
        with self._session(environ) as db:
            now = datetime.now(UTC)
            holder = key_holder(db, token, now, attach=False)
            if holder is None:
                raise HandOver
            environ["datameta.auth_method"] = "apikey"
            note_user(holder.user.site_id)
            note_definitions_version(db, holder.definitions_version)
            handed_in = db is environ.get("app.dbsession")
            if holder.use_to_note is not None and handed_in:
                # In the transaction handed in, as the security policy does there.
                holder.user.last_api_use = holder.use_to_note
            user_id = holder.user.id  # the commit expires what the session loaded
            call = ExpressCall(
                db, holder.user, document, params, self.registry, self.settings, environ
            )
            answer = _ENCODE(route.operation(call)).encode()
        if not handed_in:
            # The transaction handed in (tests) is never committed by the request.
            for action in call.committed:
                action()
            if holder.use_to_note is not None:
                # As the security policy does, once the request's transaction committed.
                write_api_use(self.registry["dbengine"], user_id, holder.use_to_note)
        return answer

    @contextmanager
    def _session(self, environ: Environ) -> Iterator[Session]:
        """A transaction that commits when the block ends without an exception.

        Tests hand in a session bound to a transaction of their own (``app.dbsession``):
        the lane then works in a savepoint of it, and leaves the commit to the test.
        """
        handed_in = environ.get("app.dbsession")
        if handed_in is not None:
            with _savepoint_or_hand_over(handed_in):
                yield handed_in
            return
        db = self.registry["dbsession_factory"]()
        try:
            yield db
            db.commit()
        except HandOver:
            raise
        except Exception as error:
            # A lost race, a dropped connection, an answer the app words better: it
            # serves the request again from the start (and replays it if it may).
            log.debug("express lane hands over after %r", error)
            raise HandOver from error
        finally:
            db.close()


@contextmanager
def _savepoint_or_hand_over(db: Session) -> Iterator[None]:
    savepoint = db.begin_nested()
    try:
        yield
    except HandOver:
        savepoint.rollback()
        raise
    except Exception as error:
        savepoint.rollback()
        raise HandOver from error
    savepoint.commit()


def _bearer_token(authorization: str) -> str | None:
    matched = _BEARER.fullmatch(authorization)
    return None if matched is None else matched.group(1)


def _plain_json(body: bytes) -> Any:
    """The parsed body, if it is JSON that holds only text a database can store.

    A ``\\u`` escape may hide such a character: the app's check at the door finds it
    (``datameta.security.text_input``) and names its field.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HandOver from None
    if "\\u" in text or is_unstorable(text):
        raise HandOver
    try:
        return json.loads(text)
    except ValueError:
        raise HandOver from None


def body_checker(registry: Registry, spec_path: str, method: str) -> Callable[[Any], bool]:
    """Whether a parsed body is valid for the operation and is its own unmarshalled value."""
    validator = registry.settings["pyramid_openapi3"]["request_validator"]
    check = validator.json_body_check(spec_path, method.lower())
    if check is None:
        raise ValueError(f"{method} {spec_path}: no JSON body the lane can take as it is")
    return check


def express_route(
    route_name: str, method: str, spec_path: str, operation: Operation
) -> ExpressRoute:
    """The lane's route for the operation ``spec_path`` names in openapi.yaml (its path
    below the API's root, as the app's route ``route_name`` has it): ``{id}`` takes a
    plain id only."""
    pattern = re.escape(API + spec_path).replace(r"\{id\}", f"(?P<id>{_PLAIN_ID})")
    return ExpressRoute(route_name, method, re.compile(pattern), spec_path, operation)
