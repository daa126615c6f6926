"""Where data files live: a small storage interface, implemented for S3 in ``s3``.

Clients move file bytes directly to and from S3 with presigned URLs, so the app
only signs requests and checks the result; it streams bytes itself only for
uploads through the app (DataMeta 1.x clients).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol
from urllib.parse import quote

from pyramid.config import Configurator
from pyramid.request import Request

from datameta.config import Settings, settings_of
from datameta.errors import ServiceUnavailable

MiB = 1024 * 1024
DEFAULT_CHUNK_SIZE = 8 * MiB

_MD5_HEX = re.compile(r"[0-9a-f]{32}")


log = logging.getLogger(__name__)


class StorageError(ServiceUnavailable):
    """The storage backend could not be reached or refused a request."""

    component = "storage"


@dataclass(frozen=True)
class PresignedRequest:
    """A request a client may send to storage without credentials until ``expires_at``.

    The client must send ``headers`` exactly as given: they are part of the signature.
    """

    url: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    md5_hex: str | None  # None when storage did not report the content's MD5


@dataclass(frozen=True)
class StoredPart:
    """A part of a multipart upload as S3 holds it."""

    number: int
    size: int
    etag: str


class Storage(Protocol):
    """What the app needs of a store of objects, each named by a key.

    Each method's contract is stated here, once; an implementation subclasses this
    protocol (so that type checking compares the signatures) and comments only on
    what is particular to it.
    """

    def presigned_put(
        self, key: str, *, content_md5_hex: str | None, expires_seconds: int
    ) -> PresignedRequest:
        """A PUT of the object's bytes; with an MD5, storage refuses any other bytes."""

    def presigned_get(
        self, key: str, *, expires_seconds: int, download_name: str | None = None
    ) -> PresignedRequest:
        """A GET of the object; with a name, browsers save the download under it."""

    def head(self, key: str) -> ObjectInfo | None:
        """Size and checksum of the object, or None when it does not exist."""

    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing object is not an error."""

    def upload_stream(
        self, key: str, stream: BinaryIO, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> ObjectInfo:
        """Store a stream of unknown length, holding one part in memory at a time.

        The returned MD5 is computed from the bytes, also for multipart uploads
        whose ETag is not an MD5.
        """

    def start_multipart(self, key: str) -> str:
        """Begin a multipart upload of the object; returns the storage's id of it."""

    def presigned_parts(
        self,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        *,
        expires_seconds: int,
    ) -> list[PresignedRequest]:
        """PUTs of ``(part number, MD5 hex)`` parts, each signed with its MD5 so that
        storage refuses other bytes."""

    def list_parts(self, key: str, upload_id: str) -> list[StoredPart] | None:
        """The parts stored of an upload, by number; None when storage knows no such upload."""

    def complete_multipart(self, key: str, upload_id: str, parts: list[StoredPart]) -> str:
        """Join the parts into the object; returns its ETag."""

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload and its parts; an upload storage no longer knows is not an error."""

    def read_chunks(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The object's bytes, streamed in chunks: memory stays flat with its size."""

    def ping(self) -> None:
        """Raise StorageError unless the bucket answers."""

    def create_bucket_if_missing(self) -> bool:
        """Create the bucket unless it exists; True when it was created."""


def md5_from_etag(etag: str) -> str | None:
    """The content MD5 an ETag stands for, if any.

    S3 uses the MD5 as ETag for single-part uploads only; multipart ETags look
    like ``<md5 of the part md5s>-<parts>`` and say nothing about the content.
    """
    etag = etag.strip('"').lower()
    return etag if _MD5_HEX.fullmatch(etag) else None


def multipart_etag(part_etags: list[str]) -> str | None:
    """The ETag S3 gives an object joined from parts with these ETags (in part order):
    the MD5 of the parts' binary MD5s, "-", the number of parts. None when a part's
    ETag is not its MD5 (then S3 says nothing of the content this way)."""
    digests = [md5_from_etag(etag) for etag in part_etags]
    if not digests or None in digests:
        return None
    joined = b"".join(bytes.fromhex(digest) for digest in digests if digest is not None)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(digests)}"


def content_disposition(filename: str) -> str:
    """An ``attachment`` Content-Disposition that any browser saves as ``filename``."""
    # Control characters would end the header early; nobody wants them in a name.
    filename = "".join(char for char in filename if char.isprintable())
    fallback = "".join(char if char.isascii() else "_" for char in filename)
    fallback = fallback.replace("\\", "\\\\").replace('"', '\\"')
    value = f'attachment; filename="{fallback}"'
    if not filename.isascii():
        # RFC 5987/6266: browsers prefer filename* and take the exact UTF-8 name from it.
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


def storage_from_settings(settings: Settings) -> Storage:
    # Imported here so that code running against a test double never loads boto3.
    from datameta.storage.s3 import S3Storage

    return S3Storage(settings.s3)


def delete_after_commit(request: Request, keys: list[str]) -> None:
    """Delete stored objects once the request's transaction commits, never before.

    Deleting first would lose content whose records a failed transaction keeps.
    A delete that fails after the commit is logged: the object is then an orphan,
    not a dangling record.
    """
    if not keys:
        return
    storage: Storage = request.registry["storage"]

    def delete_if_committed(committed: bool) -> None:
        if not committed:
            return
        for key in keys:
            try:
                storage.delete(key)
            except Exception:
                log.exception("could not delete stored object %s", key)

    request.tm.get().addAfterCommitHook(delete_if_committed)


def _request_storage(request: Request) -> Storage:
    return request.registry["storage"]


def includeme(config: Configurator) -> None:
    settings = settings_of(config.registry)
    # Tests may have registered a storage of their own.
    storage = config.registry.get("storage")
    if storage is None:
        storage = storage_from_settings(settings)
    config.registry["storage"] = storage
    config.add_request_method(_request_storage, "storage", reify=True)
