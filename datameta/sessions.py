"""Server-side sessions in memcached.

The cookie carries only a random id, signed so that forged ids are refused
without a memcached round trip; the session's data stays on the server. Any
app process can serve any request, so the app scales out without sticky
sessions.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheError
from pyramid.config import Configurator
from pyramid.interfaces import ISession
from pyramid.request import Request
from pyramid.response import Response
from webob.cookies import SignedSerializer
from zope.interface import implementer

from datameta.config import settings_of
from datameta.errors import ServiceUnavailable

log = logging.getLogger(__name__)

KEY_PREFIX = "datameta:session:"


class SessionStoreUnavailable(ServiceUnavailable):
    """memcached does not answer: sessions can be neither read nor kept."""

    component = "memcached"


@contextmanager
def _unavailable_when_down(action: str) -> Iterator[None]:
    # Callers handle one error and need not know the client library's.
    try:
        yield
    except (MemcacheError, OSError) as error:
        raise SessionStoreUnavailable(f"memcached {action} failed: {error!r}") from error


class SessionStore(Protocol):
    """Where session data lives, addressed by session id."""

    def load(self, session_id: str) -> dict[str, Any] | None: ...

    def save(self, session_id: str, data: dict[str, Any], ttl: int) -> None: ...

    def delete(self, session_id: str) -> None: ...

    def ping(self) -> None: ...

    def check(self) -> None: ...


class MemcachedStore:
    """A SessionStore over one or more memcached servers (keys spread by hashing)."""

    def __init__(self, servers: tuple[tuple[str, int], ...], timeout: float = 2.0) -> None:
        self.client = HashClient(
            list(servers),
            connect_timeout=timeout,
            timeout=timeout,
            use_pooling=True,
            # Without it, Nagle's algorithm and delayed ACKs add milliseconds to every get.
            no_delay=True,
            # Raise instead of silently dropping a session when a server is down.
            ignore_exc=False,
            # Wait for "STORED": with fire-and-forget writes, the next request (often on
            # another pooled connection) may read the session before the write landed.
            default_noreply=False,
            # A server that fails is set aside at once and tried again after dead_timeout.
            # With retries, HashClient answers a miss (None) while it waits to retry a
            # failed server: a logged-in user would silently lose the session.
            retry_attempts=0,
            dead_timeout=1,
        )

    def load(self, session_id: str) -> dict[str, Any] | None:
        with _unavailable_when_down("get"):
            raw = self.client.get(KEY_PREFIX + session_id)
        return None if raw is None else json.loads(raw)

    def save(self, session_id: str, data: dict[str, Any], ttl: int) -> None:
        with _unavailable_when_down("set"):
            self.client.set(KEY_PREFIX + session_id, json.dumps(data).encode(), expire=ttl)

    def delete(self, session_id: str) -> None:
        with _unavailable_when_down("delete"):
            self.client.delete(KEY_PREFIX + session_id)

    def check(self) -> None:
        """Raise SessionStoreUnavailable unless sessions can be read now (a read of no key)."""
        with _unavailable_when_down("get"):
            self.client.get(KEY_PREFIX + "check")

    def ping(self) -> None:
        """Raise SessionStoreUnavailable unless every server answers (for the health check)."""
        for server, client in self.client.clients.items():
            try:
                client.version()
            except Exception as error:
                raise SessionStoreUnavailable(
                    f"memcached {server} does not answer: {error!r}"
                ) from error


def _new_session_id() -> str:
    return secrets.token_urlsafe(32)


@implementer(ISession)
class ServerSideSession(dict):
    """A dict saved to the store when the response goes out, changed or not.

    Any request that loads the session saves it (or deletes it when empty), so
    nothing tracks changes and ``changed`` has nothing to do.
    """

    def __init__(
        self, request: Request, store: SessionStore, session_id: str | None, data: dict | None
    ) -> None:
        super().__init__(data or {})
        self.request = request
        self.store = store
        self.new = session_id is None
        self.session_id = session_id or _new_session_id()
        self.created: float = self.get("_created", time.time())
        self._invalidated_id: str | None = None

    def changed(self) -> None:
        """Part of ISession; nothing to do, as the session is saved anyway."""

    def invalidate(self) -> None:
        """Forget all data and switch to a fresh id (defeats session fixation)."""
        if not self.new:
            self._invalidated_id = self.session_id
        self.clear()
        self.session_id = _new_session_id()
        self.new = True
        self.created = time.time()

    # Flash messages, as ISession defines them.
    def flash(self, msg: Any, queue: str = "", allow_duplicate: bool = True) -> None:
        messages = self.setdefault("_flash_" + queue, [])
        if allow_duplicate or msg not in messages:
            messages.append(msg)

    def pop_flash(self, queue: str = "") -> list:
        return self.pop("_flash_" + queue, [])

    def peek_flash(self, queue: str = "") -> list:
        return list(self.get("_flash_" + queue, []))

    # CSRF tokens live in the session.
    def new_csrf_token(self) -> str:
        token = secrets.token_urlsafe(32)
        self["_csrft_"] = token
        return token

    def get_csrf_token(self) -> str:
        return self.get("_csrft_") or self.new_csrf_token()


class SessionFactory:
    """Pyramid session factory: loads the session named by the signed cookie."""

    def __init__(
        self,
        store: SessionStore,
        secret: str,
        cookie_name: str,
        secure: bool,
        timeout: int,
    ) -> None:
        self.store = store
        self.serializer = SignedSerializer(secret, salt="datameta.session", serializer=_Text())
        self.cookie_name = cookie_name
        self.secure = secure
        self.timeout = timeout

    def __call__(self, request: Request) -> ServerSideSession:
        session_id = self._session_id_from_cookie(request)
        data = None
        if session_id is not None:
            data = self.store.load(session_id)
            if data is None:  # expired or unknown: start afresh under a new id
                session_id = None
        if session_id is None:
            # A new session is saved only once the answer is ready, too late to answer
            # 503 when memcached is down: find out now, while the view can still fail.
            self.store.check()
        session = ServerSideSession(request, self.store, session_id, data)
        request.add_response_callback(self._save_callback(session))
        return session

    def _session_id_from_cookie(self, request: Request) -> str | None:
        cookie = request.cookies.get(self.cookie_name)
        if not cookie:
            return None
        try:
            return self.serializer.loads(cookie.encode())
        except ValueError:
            return None

    def _save_callback(self, session: ServerSideSession) -> Callable[[Request, Response], None]:
        def save(request: Request, response: Response) -> None:
            try:
                self._save(session, request, response)
            except SessionStoreUnavailable as error:
                # Too late for an error answer: memcached went away during the request.
                # The session is not kept; the next request answers 503 while it is away.
                log.warning("session not saved: %s", error)

        return save

    def _save(self, session: ServerSideSession, request: Request, response: Response) -> None:
        if session._invalidated_id:
            self.store.delete(session._invalidated_id)
        if not session:
            if not session.new:
                self.store.delete(session.session_id)
            if request.cookies.get(self.cookie_name) is not None:
                response.delete_cookie(self.cookie_name)
            return
        # Saved by every request that loaded it, changed or not: that keeps the idle
        # timeout sliding, and in-place changes of nested values (a flash queue) are kept.
        session["_created"] = session.created
        self.store.save(session.session_id, dict(session), self.timeout)
        if session.new:
            # No max_age: the cookie ends with the browser; the data ends after
            # the idle timeout in memcached.
            response.set_cookie(
                self.cookie_name,
                self.serializer.dumps(session.session_id).decode(),
                path="/",
                secure=self.secure,
                httponly=True,
                samesite="Lax",
            )


class _Text:
    """Serializer for SignedSerializer: the session id is plain text."""

    def dumps(self, value: str) -> bytes:
        return value.encode()

    def loads(self, value: bytes) -> str:
        return value.decode()


def includeme(config: Configurator) -> None:
    settings = settings_of(config.registry)
    store = config.registry.get("session_store") or MemcachedStore(settings.memcached_servers)
    config.registry["session_store"] = store
    config.set_session_factory(
        SessionFactory(
            store,
            secret=settings.session_secret,
            cookie_name=settings.session_cookie_name,
            secure=settings.session_cookie_secure,
            timeout=settings.session_timeout,
        )
    )
