"""Storage on any S3-compatible service (AWS, SeaweedFS, MinIO, Ceph)."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from datameta.config import S3Settings
from datameta.storage import (
    DEFAULT_CHUNK_SIZE,
    MiB,
    ObjectInfo,
    PresignedRequest,
    Storage,
    StorageError,
    StoredPart,
    content_disposition,
    md5_from_etag,
)
from datameta.storage.heads import ObjectHeads
from datameta.storage.s3_requests import S3RequestError, S3Requests
from datameta.storage.sigv4 import ALGORITHM, SIGV4_TIME, Endpoint, object_path, uri_encode

if TYPE_CHECKING:  # the boto3 stubs are a development dependency only
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

# S3 refuses multipart parts below 5 MiB (except the last) and uploads of more than 10,000 parts.
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
# Parts grow by one chunk size every this many parts, so that 8 MiB chunks still
# reach 10,000 parts only at about 430 GiB while small files keep small parts.
PARTS_PER_SIZE_STEP = 1_000

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_NO_SUCH_UPLOAD = {"NoSuchUpload"}


def _md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def _hex_to_base64(md5_hex: str) -> str:
    digest = bytes.fromhex(md5_hex)
    if len(digest) != 16:
        raise ValueError(f"not an MD5 digest: {md5_hex!r}")
    return base64.b64encode(digest).decode("ascii")


def _is_not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _NOT_FOUND


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the stream.

    read() may return less than asked long before the end (pipes, sockets, WSGI
    input), but every multipart part except the last must have the minimum size.
    """
    pieces: list[bytes] = []
    remaining = size
    while remaining > 0:
        piece = stream.read(remaining)
        if not piece:
            break
        pieces.append(piece)
        remaining -= len(piece)
    return b"".join(pieces)


def _part_size(chunk_size: int, part_number: int) -> int:
    return chunk_size * (1 + (part_number - 1) // PARTS_PER_SIZE_STEP)


@contextmanager
def _request_errors(action: str, key: str) -> Iterator[None]:
    # The multipart calls of every large file go through S3Requests, not boto3.
    try:
        yield
    except S3RequestError as error:
        raise StorageError(f"S3 {action} of {key!r} failed: {error}") from error


@contextmanager
def _storage_errors(action: str, key: str) -> Iterator[None]:
    # Callers handle StorageError and need not know which client library is behind it.
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise StorageError(f"S3 {action} of {key!r} failed: {error}") from error


class PartSigner:
    """Presigned part PUTs (SigV4 query authentication), as botocore makes them, but cheap.

    Through boto3, a presigned URL costs about 1 ms of CPU (request serialization,
    event hooks); an upload of 100 GiB in 16 MiB parts needs 6,400 of them. The
    signature itself is two SHA-256 and one HMAC per URL once the day's signing
    key is derived. The signature is the one botocore's S3SigV4QueryAuth computes
    for the same request and time (a unit test compares them).
    """

    def __init__(self, endpoint_url: str, bucket: str, settings: S3Settings) -> None:
        self.endpoint = Endpoint(
            endpoint_url,
            bucket,
            region=settings.region,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
        )

    def sign_parts(
        self,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        *,
        expires_seconds: int,
        now: datetime | None = None,
    ) -> list[PresignedRequest]:
        """One presigned PUT per ``(part number, MD5 in base64)``, each signed with its MD5."""
        endpoint = self.endpoint
        now = now or datetime.now(UTC)
        timestamp = now.strftime(SIGV4_TIME)
        scope = endpoint.scope(timestamp[:8])
        path = object_path(endpoint.path_prefix, key)
        expires_at = now + timedelta(seconds=expires_seconds)
        # Every parameter but partNumber is the same for the whole batch; sorted by name.
        before = (
            f"X-Amz-Algorithm={ALGORITHM}"
            f"&X-Amz-Credential={uri_encode(f'{endpoint.access_key}/{scope}')}"
            f"&X-Amz-Date={timestamp}&X-Amz-Expires={expires_seconds}"
            "&X-Amz-SignedHeaders=content-md5%3Bhost&partNumber="
        )
        after = f"&uploadId={uri_encode(upload_id)}"
        signed = []
        for number, md5_base64 in parts:
            query = f"{before}{number}{after}"
            canonical = (
                f"PUT\n{path}\n{query}\ncontent-md5:{md5_base64}\nhost:{endpoint.host}\n\n"
                "content-md5;host\nUNSIGNED-PAYLOAD"
            )
            signature = endpoint.signature(timestamp, canonical)
            signed.append(
                PresignedRequest(
                    url=f"{endpoint.base}{path}?{query}&X-Amz-Signature={signature}",
                    headers={"Content-MD5": md5_base64},
                    expires_at=expires_at,
                )
            )
        return signed


class ObjectSigner(PartSigner):
    """Presigned requests of a whole object (the PUT of an announced file), signed locally.

    The same query authentication as botocore's presigned URLs (a unit test compares
    them), without the millisecond of request serialization and event hooks each
    URL costs through boto3: the app signs one per announced file.
    """

    def __init__(self, endpoint_url: str, bucket: str, settings: S3Settings) -> None:
        super().__init__(endpoint_url, bucket, settings)
        self._query_starts: dict[str, str] = {}

    def presign(
        self,
        method: str,
        key: str,
        *,
        expires_seconds: int,
        md5_base64: str | None = None,
        now: datetime | None = None,
    ) -> PresignedRequest:
        """``method`` on the object; with an MD5, the request must carry it as Content-MD5."""
        endpoint = self.endpoint
        now = now or datetime.now(UTC)
        timestamp = now.strftime(SIGV4_TIME)
        path = object_path(endpoint.path_prefix, key)
        if md5_base64 is None:
            signed_headers = "host"
            canonical_headers = f"host:{endpoint.host}\n"
        else:
            signed_headers = "content-md5;host"
            canonical_headers = f"content-md5:{md5_base64}\nhost:{endpoint.host}\n"
        # The parameters sorted by name, as SigV4's canonical query string wants them.
        query = (
            f"{self._query_start(timestamp[:8])}"
            f"&X-Amz-Date={timestamp}&X-Amz-Expires={expires_seconds}"
            f"&X-Amz-SignedHeaders={'host' if md5_base64 is None else 'content-md5%3Bhost'}"
        )
        canonical = (
            f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD"
        )
        signature = endpoint.signature(timestamp, canonical)
        return PresignedRequest(
            url=f"{endpoint.base}{path}?{query}&X-Amz-Signature={signature}",
            headers={} if md5_base64 is None else {"Content-MD5": md5_base64},
            expires_at=now + timedelta(seconds=expires_seconds),
        )

    def _query_start(self, day: str) -> str:
        """The query's parameters before the date, the same for a whole day."""
        start = self._query_starts.get(day)
        if start is None:
            endpoint = self.endpoint
            credential = uri_encode(f"{endpoint.access_key}/{endpoint.scope(day)}")
            start = f"X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={credential}"
            # One day's entry at a time: the days before are never signed again.
            self._query_starts = {day: start}
        return start


class S3Storage(Storage):
    """Storage in one S3 bucket.

    The app reaches S3 at ``endpoint_url``, clients at ``public_endpoint_url``
    (the two differ behind proxies or in containers). The host is part of a
    SigV4 signature, so presigned URLs are signed by a client for the public one.
    """

    def __init__(
        self, settings: S3Settings, *, connect_timeout: float = 3, read_timeout: float = 30
    ) -> None:
        self.bucket = settings.bucket
        self.endpoint_url = settings.endpoint_url
        config = Config(
            signature_version="s3v4",
            # Path style works with any endpoint; virtual hosts need DNS for each bucket.
            s3={"addressing_style": "path"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": 2, "mode": "standard"},
            # Checksums only where S3 requires them: otherwise some botocore versions
            # sign a CRC32 of the empty body into presigned PUT URLs, and uploads send
            # CRC32 trailers that not every S3-compatible server accepts. Content-MD5,
            # which every server checks, is sent explicitly instead.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A private session: boto3's default session must not be shared between threads,
        # while clients are thread-safe and are created once here.
        session = boto3.session.Session(
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            region_name=settings.region,
        )
        self.client = session.client("s3", endpoint_url=settings.endpoint_url, config=config)
        public_url = settings.public_endpoint_url or settings.endpoint_url
        self.signing_client = (
            self.client
            if public_url == settings.endpoint_url
            else session.client("s3", endpoint_url=public_url, config=config)
        )
        self.part_signer = PartSigner(public_url, settings.bucket, settings)
        self.public_signer = ObjectSigner(public_url, settings.bucket, settings)
        endpoint = Endpoint(
            settings.endpoint_url,
            settings.bucket,
            region=settings.region,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
        )
        self.requests = S3Requests(
            endpoint, connect_timeout=connect_timeout, read_timeout=read_timeout
        )
        self.heads = ObjectHeads(
            endpoint, connect_timeout=connect_timeout, read_timeout=read_timeout
        )

    def presigned_put(
        self, key: str, *, content_md5_hex: str | None, expires_seconds: int
    ) -> PresignedRequest:
        # The MD5 is signed as a header: S3 answers 400 BadDigest for corrupted bytes
        # and 403 when the client leaves the header out or changes it.
        return self.public_signer.presign(
            "PUT",
            key,
            expires_seconds=expires_seconds,
            md5_base64=None if content_md5_hex is None else _hex_to_base64(content_md5_hex),
        )

    def presigned_get(
        self, key: str, *, expires_seconds: int, download_name: str | None = None
    ) -> PresignedRequest:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if download_name is not None:
            params["ResponseContentDisposition"] = content_disposition(download_name)
        return self._presign("get_object", params, {}, expires_seconds)

    def _presign(
        self, method: str, params: dict[str, Any], headers: dict[str, str], expires_seconds: int
    ) -> PresignedRequest:
        # Taken before signing, so the URL is valid at least until expires_at.
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_seconds)
        url = self.signing_client.generate_presigned_url(
            method, Params=params, ExpiresIn=expires_seconds
        )
        return PresignedRequest(url=url, headers=headers, expires_at=expires_at)

    def head(self, key: str) -> ObjectInfo | None:
        # Signed here and sent on a kept-alive socket (``heads``): through boto3 a HEAD
        # cost several times the CPU of the rest of a file's confirmation.
        with _request_errors("HEAD", key):
            found = self.heads.head(key)
        if found is None:
            return None
        return ObjectInfo(size=found.size, etag=found.etag, md5_hex=md5_from_etag(found.etag))

    def delete(self, key: str) -> None:
        with _storage_errors("DELETE", key):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if not _is_not_found(error):
                    raise

    def upload_stream(
        self, key: str, stream: BinaryIO, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> ObjectInfo:
        if chunk_size < MIN_PART_SIZE:
            raise ValueError(f"chunk_size must be at least {MIN_PART_SIZE} bytes")
        content_md5 = hashlib.md5(usedforsecurity=False)
        first = _read_full(stream, chunk_size)
        content_md5.update(first)
        with _storage_errors("upload", key):
            if len(first) < chunk_size:
                # The whole stream fits into one request: no multipart bookkeeping.
                response = self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=first, ContentMD5=_md5_base64(first)
                )
                etag, size = response["ETag"], len(first)
            else:
                etag, size = self._upload_parts(key, first, stream, chunk_size, content_md5.update)
        return ObjectInfo(size=size, etag=etag.strip('"'), md5_hex=content_md5.hexdigest())

    def _upload_parts(
        self,
        key: str,
        first: bytes,
        stream: BinaryIO,
        chunk_size: int,
        on_read: Callable[[bytes], None],
    ) -> tuple[str, int]:
        """Multipart upload starting with ``first``; returns the ETag and the size.

        ``on_read`` sees every further chunk read from the stream.
        """
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            size = 0
            chunk = first
            while chunk:
                parts.append(self._upload_part(key, upload_id, len(parts) + 1, chunk))
                size += len(chunk)
                chunk = _read_full(stream, _part_size(chunk_size, len(parts) + 1))
                on_read(chunk)
            response = self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            # Without an abort, S3 keeps (and bills) the uploaded parts indefinitely.
            self._abort_upload(key, upload_id)
            raise
        return response["ETag"], size

    def _upload_part(
        self, key: str, upload_id: str, number: int, chunk: bytes
    ) -> CompletedPartTypeDef:
        if number > MAX_PARTS:
            raise StorageError(f"upload of {key!r} needs more than {MAX_PARTS} parts")
        # Content-MD5 makes S3 refuse a part that was corrupted on the way.
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=chunk,
            ContentMD5=_md5_base64(chunk),
        )
        return {"ETag": response["ETag"], "PartNumber": number}

    def _abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError):
            # The original error matters more; a lifecycle rule removes leftover parts.
            log.warning("could not abort multipart upload %s of %r", upload_id, key, exc_info=True)

    def start_multipart(self, key: str) -> str:
        with _request_errors("multipart start", key):
            return self.requests.create_multipart_upload(key)

    def presigned_parts(
        self,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        *,
        expires_seconds: int,
    ) -> list[PresignedRequest]:
        # Signed locally, without a request to S3.
        return self.part_signer.sign_parts(
            key,
            upload_id,
            [(number, _hex_to_base64(md5_hex)) for number, md5_hex in parts],
            expires_seconds=expires_seconds,
        )

    def list_parts(self, key: str, upload_id: str) -> list[StoredPart] | None:
        parts: list[StoredPart] = []
        marker = 0
        with _request_errors("list parts", key):
            while True:
                try:
                    page = self.requests.list_parts(key, upload_id, marker)
                except S3RequestError as error:
                    if error.code in _NO_SUCH_UPLOAD | _NOT_FOUND:
                        return None
                    raise
                parts.extend(StoredPart(*part) for part in page.parts)
                if page.next_marker is None:
                    break
                marker = page.next_marker
        return sorted(parts, key=lambda part: part.number)

    def complete_multipart(self, key: str, upload_id: str, parts: list[StoredPart]) -> str:
        with _request_errors("multipart completion", key):
            return self.requests.complete_multipart_upload(
                key, upload_id, [(part.number, part.etag) for part in parts]
            )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with _request_errors("multipart abort", key):
            try:
                self.requests.abort_multipart_upload(key, upload_id)
            except S3RequestError as error:
                if error.code not in _NO_SUCH_UPLOAD | _NOT_FOUND:
                    raise

    def read_chunks(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        with _storage_errors("GET", key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

    def ping(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(
                f"S3 bucket {self.bucket!r} at {self.endpoint_url} is not reachable: {error}"
            ) from error

    def create_bucket_if_missing(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise StorageError(f"S3 bucket {self.bucket!r}: {error}") from error
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except ClientError as error:
            # Another replica starting at the same moment may have created it.
            if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise StorageError(f"S3 bucket {self.bucket!r}: {error}") from error
            return False
        return True
