"""Bodies as streams, with bounded memory: one file part of a multipart/form-data request,
and JSON arrays written batch by batch.

``uploaded_file`` is what views use for a file part: a missing part and a body that
breaks off while it is read are both a 400 naming the part.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header
from pyramid.request import Request

from datameta.errors import ErrorItem, ValidationFailed

READ_SIZE = 1024 * 1024


class _GeneratorReader(io.RawIOBase):
    """A read-only file over a generator of byte chunks; ParserError reads as ``broken``."""

    def __init__(self, chunks: Iterator[bytes], broken: Callable[[ParserError], Exception]) -> None:
        self.chunks = chunks
        self.pending = b""
        self.broken = broken

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            try:
                self.pending = next(self.chunks, b"")
            except ParserError as error:
                raise self.broken(error) from None
            if not self.pending:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _part_chunks(body: BinaryIO, boundary: str, field: str) -> Iterator[bytes | None]:
    """Yield None when the part named ``field`` begins, then its bytes."""
    parser = PushMultipartParser(boundary)
    try:
        in_field = False
        while not parser.closed:
            chunk = body.read(READ_SIZE)
            for event in parser.parse(chunk):
                if isinstance(event, MultipartSegment):
                    in_field = event.name == field
                    if in_field:
                        yield None
                elif event is None:
                    if in_field:
                        return  # what follows the file part does not matter
                elif in_field:
                    yield bytes(event)
            if not chunk:
                break
    finally:
        parser.close(check_complete=False)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([ErrorItem(message=message, field=field)])


def uploaded_file(request: Request, field: str = "file") -> BinaryIO:
    """The part ``field`` of the request's multipart body as a stream.

    ValidationFailed on ``field`` when there is no such part, and from ``read``
    when the body turns out to be broken (it is parsed as it is read).
    """
    stream = _part_stream(request.body_file, request.headers.get("Content-Type", ""), field)
    if stream is None:
        raise _invalid(field, f"The request has no '{field}' part.")
    return stream


def _part_stream(body: BinaryIO, content_type: str, field: str = "file") -> BinaryIO | None:
    """The content of the part named ``field`` as a stream, or None when there is none."""
    mimetype, options = parse_options_header(content_type)
    if mimetype != "multipart/form-data" or "boundary" not in options:
        return None
    events = _part_chunks(body, options["boundary"], field)
    try:
        if next(events, b"") is not None:  # the body ended without the field
            return None
    except ParserError:
        return None
    chunks = (chunk for chunk in events if chunk)

    def broken(error: ParserError) -> ValidationFailed:
        return _invalid(field, f"The multipart body is broken: {error}")

    return io.BufferedReader(_GeneratorReader(chunks, broken), buffer_size=READ_SIZE)


def json_array(batches: Iterator[list[Any]]) -> Iterator[bytes]:
    """A JSON array of every item of ``batches``, one chunk per batch."""
    try:
        yield b"["
        separator = ""
        for batch in batches:
            if batch:
                # One call per batch: the encoder's fixed cost is paid once, not per item.
                yield (separator + json.dumps(batch)[1:-1]).encode()
                separator = ","
        yield b"]"
    finally:
        # A client that goes away closes this iterator; the batches (and their cursor) too.
        close = getattr(batches, "close", None)
        if close is not None:
            close()
