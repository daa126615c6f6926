"""HEAD requests of objects, the one S3 call of every small file's confirmation, made cheap.

Through urllib3 a HEAD cost about 0.6 ms of CPU, most of it ``http.client`` parsing
the answer's headers with the ``email`` package and urllib3's connection bookkeeping;
the request to S3 itself is a few syscalls. Here the request is signed from a template
(only the date and the path change between requests; the day's signing key is cached)
and sent over a kept-alive socket, and the answer's head, which is all a HEAD answer
has, is read by splitting bytes. Behaviour follows ``s3_requests.S3Requests``: the same
timeouts, one retry of a failed connection or a 5xx answer, errors named by the HTTP
status (a HEAD answer has no body to name them). A kept-alive socket that the server
closed while it was idle is replaced without counting as an attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import socket
import ssl
import time
import weakref
from dataclasses import dataclass
from urllib.parse import urlsplit

from datameta.storage.s3_requests import ATTEMPTS, S3RequestError
from datameta.storage.sigv4 import ALGORITHM, EMPTY_SHA256, Endpoint, object_path, signing_key

_RETRIED_STATUS = frozenset({500, 502, 503, 504})
_END_OF_HEAD = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024  # S3's answer heads are well below 8 KiB
_SIGNED_HEADERS = "host;x-amz-content-sha256;x-amz-date"


@dataclass(frozen=True, slots=True)
class Head:
    """What a HEAD answer says of an object: its size and ETag (quotes removed)."""

    size: int
    etag: str


class _StaleConnection(Exception):
    """A reused socket gave no answer at all: the server closed it while it was idle."""


def _timestamp(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


class ObjectHeads:
    """Signed HEAD requests to one bucket over kept-alive sockets (thread-safe)."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int = 10,
    ) -> None:
        self.endpoint = endpoint
        parts = urlsplit(endpoint.base)
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.hostname = parts.hostname or ""
        self.address = (self.hostname, parts.port or (443 if self.tls else 80))
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool_size = pool_size
        # Idle sockets; list.append and list.pop are atomic, so no lock is needed.
        self.idle: list[socket.socket] = []
        self._request_tail = (
            f"Host: {endpoint.host}\r\nx-amz-content-sha256: {EMPTY_SHA256}\r\nx-amz-date: "
        )
        _ALL.add(self)

    def authorization(self, path: str, timestamp: str) -> str:
        """The Authorization header of a HEAD of ``path`` (encoded) at ``timestamp``.

        The canonical request of SigV4 with the headers this client sends: Host, the
        empty payload's SHA-256 and the date, nothing else.
        """
        endpoint = self.endpoint
        day = timestamp[:8]
        scope = f"{day}/{endpoint.region}/s3/aws4_request"
        canonical = (
            f"HEAD\n{path}\n\nhost:{endpoint.host}\nx-amz-content-sha256:{EMPTY_SHA256}\n"
            f"x-amz-date:{timestamp}\n\n{_SIGNED_HEADERS}\n{EMPTY_SHA256}"
        )
        to_sign = (
            f"{ALGORITHM}\n{timestamp}\n{scope}\n" + hashlib.sha256(canonical.encode()).hexdigest()
        )
        key = signing_key(endpoint.secret_key, day, endpoint.region)
        signature = hmac.digest(key, to_sign.encode(), "sha256").hex()
        return (
            f"{ALGORITHM} Credential={endpoint.access_key}/{scope}, "
            f"SignedHeaders={_SIGNED_HEADERS}, Signature={signature}"
        )

    def request_bytes(self, key: str, now: float) -> bytes:
        path = object_path(self.endpoint.path_prefix, key)
        timestamp = _timestamp(now)
        return (
            f"HEAD {path} HTTP/1.1\r\n{self._request_tail}{timestamp}\r\n"
            f"Authorization: {self.authorization(path, timestamp)}\r\n\r\n"
        ).encode()

    def head(self, key: str) -> Head | None:
        """The object's size and ETag; None when there is no such object."""
        error: S3RequestError | None = None
        for _attempt in range(ATTEMPTS):
            try:
                status, found = self._exchange(key)
            except OSError as failure:
                error = S3RequestError("Unreachable", str(failure) or type(failure).__name__)
                continue
            if status == 404:
                return None
            if status >= 300:
                error = S3RequestError(str(status), "", status)
                if status in _RETRIED_STATUS:
                    continue
                raise error
            if found is None:
                raise S3RequestError("MalformedAnswer", "S3 answered a HEAD without size or ETag")
            return found
        assert error is not None
        raise error

    def _exchange(self, key: str) -> tuple[int, Head | None]:
        """Send one HEAD and read its answer: on an idle socket if there is one (and on a
        fresh one if that turns out closed), else on a fresh one."""
        while True:
            try:
                connection = self.idle.pop()
            except IndexError:
                break
            try:
                return self._over(connection, key, reused=True)
            except _StaleConnection:
                continue
        try:
            return self._over(self._connect(), key, reused=False)
        except _StaleConnection as failure:
            raise ConnectionResetError("S3 closed the connection without an answer") from failure

    def _connect(self) -> socket.socket:
        connection = socket.create_connection(self.address, timeout=self.connect_timeout)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_hostname=self.hostname)
        connection.settimeout(self.read_timeout)
        return connection

    def _over(
        self, connection: socket.socket, key: str, *, reused: bool
    ) -> tuple[int, Head | None]:
        try:
            try:
                connection.sendall(self.request_bytes(key, time.time()))
                answer = connection.recv(8192)
            except (BrokenPipeError, ConnectionResetError) as failure:
                if reused:
                    raise _StaleConnection from failure
                raise
            if not answer:
                raise _StaleConnection
            while _END_OF_HEAD not in answer:
                more = connection.recv(8192)
                if not more:
                    raise ConnectionResetError("S3 closed the connection in mid-answer")
                answer += more
                if len(answer) > _MAX_HEAD:
                    raise ConnectionAbortedError("S3's answer has no end of its head")
        except BaseException:
            connection.close()
            raise
        status, found, keep_alive = _parse_head(answer)
        if keep_alive and len(self.idle) < self.pool_size:
            self.idle.append(connection)
        else:
            connection.close()
        return status, found

    def close(self) -> None:
        while self.idle:
            try:
                self.idle.pop().close()
            except IndexError:
                break


# Of an answer's head, only what the app needs is looked for; names in any case.
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)", re.IGNORECASE)
_ETAG = re.compile(rb'\r\netag:[ \t]*"?([^"\r\n]*)', re.IGNORECASE)
_CONNECTION_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)


def _parse_head(answer: bytes) -> tuple[int, Head | None, bool]:
    """Status, the object's size and ETag if named, and whether the connection stays open."""
    head, _, rest = answer.partition(_END_OF_HEAD)
    head += b"\r\n"  # so that the last header ends like every other
    if not head.startswith(b"HTTP/1."):
        raise ConnectionAbortedError(f"not an HTTP answer: {head[:40]!r}")
    try:
        status = int(head[9:12])
    except ValueError as failure:
        raise ConnectionAbortedError(f"not an HTTP answer: {head[:40]!r}") from failure
    size = _CONTENT_LENGTH.search(head)
    etag = _ETAG.search(head)
    found = (
        Head(int(size[1]), etag[1].decode("latin-1"))
        if size is not None and etag is not None
        else None
    )
    # Anything after the head would be a body a HEAD answer must not have: then the
    # connection's framing is not to be trusted.
    keep_alive = (
        not rest and head.startswith(b"HTTP/1.1") and _CONNECTION_CLOSE.search(head) is None
    )
    return status, found, keep_alive


# Sockets opened before a fork are shared with the child: each side must open its own.
_ALL: weakref.WeakSet[ObjectHeads] = weakref.WeakSet()


def _forget_inherited_sockets() -> None:
    # Closing the child's copies leaves the parent's connections open.
    for heads in list(_ALL):
        heads.close()


os.register_at_fork(after_in_child=_forget_inherited_sockets)
