"""Request bodies larger than the configured limit are refused with 413 before they are read.

A body that announces its length is judged by its ``Content-Length`` alone, so
nothing of it is read. A body without one (``Transfer-Encoding: chunked``, which
a streaming server such as granian hands on as it arrives) is read through a
counter that refuses it once the limit is passed, so no more than the limit is
ever held. File content that DataMeta 1.x clients post through the app has a
limit of its own (``datameta.limits.max_upload_bytes``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPRequestEntityTooLarge
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.tweens import EXCVIEW

from datameta.config import settings_of
from datameta.routes import API

UPLOAD_PREFIX = f"{API}/upload/"


def too_large(limit: int) -> HTTPRequestEntityTooLarge:
    size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit} bytes"
    return HTTPRequestEntityTooLarge(f"The request body is larger than {size}.")


class CappedInput:
    """A body stream that refuses to yield more than ``limit`` bytes."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.consumed = 0

    def _count(self, data: bytes) -> bytes:
        self.consumed += len(data)
        if self.consumed > self.limit:
            raise too_large(self.limit)
        return data

    def read(self, size: int = -1) -> bytes:
        # Never ask for much more than may still come, so that an unbounded read stops early.
        allowed = self.limit - self.consumed + 1
        return self._count(self.stream.read(allowed if size < 0 else min(size, allowed)))

    def readline(self, size: int = -1) -> bytes:
        allowed = self.limit - self.consumed + 1
        return self._count(self.stream.readline(allowed if size < 0 else min(size, allowed)))

    def __iter__(self) -> CappedInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _is_upload(request: Request) -> bool:
    # The raw path: request.path_info would fail on bytes that are not UTF-8, which
    # the check of text input answers later.
    return str(request.environ.get("PATH_INFO", "")).startswith(UPLOAD_PREFIX)


def _limit(request: Request) -> int:
    settings = settings_of(request.registry)
    return settings.max_upload_bytes if _is_upload(request) else settings.max_body_bytes


def _streamed(request: Request) -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def retry_attempts(request: Request) -> int | None:
    """pyramid_retry's activate hook: the requests whose body must not be copied for replays.

    To replay a request, pyramid_retry first copies its whole body (to a temporary
    file when large), before any tween runs. A body over the limit, a streamed one of
    unknown length and file content posted through the app are therefore served in one
    attempt, uncopied: the first is refused unread, the others are read as they come.
    None: the configured number of attempts.
    """
    length = request.content_length
    if length is None:
        return 1 if _streamed(request) else None
    if length > _limit(request) or _is_upload(request):
        return 1
    return None


def body_limit_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    def body_limit_tween(request: Request) -> Response:
        limit = _limit(request)
        length = request.content_length
        if length is not None and length > limit:
            raise too_large(limit)
        if length is None and _streamed(request) and "wsgi.input" in request.environ:
            request.environ["wsgi.input"] = CappedInput(request.environ["wsgi.input"], limit)
        return handler(request)

    return body_limit_tween


def includeme(config: Configurator) -> None:
    # Read when pyramid_retry is included (datameta.db), so this include comes first.
    config.add_settings({"retry.activate_hook": "datameta.security.body_limit.retry_attempts"})
    # Under the error views, so that the 413 is answered like any other error; over the
    # check of text input, which reads bodies.
    config.add_tween(
        "datameta.security.body_limit.body_limit_tween_factory",
        under=EXCVIEW,
        over="datameta.security.text_input.text_input_tween_factory",
    )
