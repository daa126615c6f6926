"""S3 storage against a real S3 server that checks signatures and Content-MD5 like AWS."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from datameta.config import Settings
from datameta.storage import ObjectInfo, StorageError, content_disposition
from datameta.storage.s3 import MIN_PART_SIZE, S3Storage

MiB = 1024 * 1024
EXPIRES = 300
HTTP_TIMEOUT = 30


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class IteratorStream(io.RawIOBase):
    """A readable stream of unknown length that returns short reads, like a socket."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[start : start + size] for start in range(0, len(data), size))


@pytest.fixture(scope="module")
def storage(settings: Settings) -> S3Storage:
    return S3Storage(settings.s3)


@pytest.fixture
def key(storage: S3Storage) -> Iterator[str]:
    """A key no other test uses, deleted afterwards whatever happened."""
    key = f"tests/storage/{uuid.uuid4()}/data.bin"
    yield key
    storage.delete(key)


def put(storage: S3Storage, key: str, data: bytes) -> None:
    presigned = storage.presigned_put(key, content_md5_hex=md5_hex(data), expires_seconds=EXPIRES)
    response = requests.put(
        presigned.url, data=data, headers=presigned.headers, timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 200, response.text


def get(storage: S3Storage, key: str) -> bytes:
    presigned = storage.presigned_get(key, expires_seconds=EXPIRES)
    response = requests.get(presigned.url, headers=presigned.headers, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    return response.content


def test_presigned_put_then_get_returns_the_same_bytes(storage: S3Storage, key: str) -> None:
    data = random.randbytes(100_000)

    put(storage, key, data)

    assert get(storage, key) == data
    assert storage.head(key) == ObjectInfo(
        size=len(data), etag=md5_hex(data), md5_hex=md5_hex(data)
    )


def test_presigned_put_without_md5_needs_no_headers(storage: S3Storage, key: str) -> None:
    presigned = storage.presigned_put(key, content_md5_hex=None, expires_seconds=EXPIRES)

    response = requests.put(presigned.url, data=b"plain", timeout=HTTP_TIMEOUT)

    assert presigned.headers == {}
    assert response.status_code == 200, response.text
    assert get(storage, key) == b"plain"


def test_presigned_request_says_when_it_expires(storage: S3Storage, key: str) -> None:
    before = time.time()
    presigned = storage.presigned_get(key, expires_seconds=600)

    assert before + 595 <= presigned.expires_at.timestamp() <= time.time() + 600
    assert presigned.expires_at.tzinfo is not None


def change_key(url: str) -> str:
    path, _, query = url.partition("?")
    return f"{path[:-1]}X?{query}"


def change_signature(url: str) -> str:
    last = "0" if url[-1] != "0" else "1"
    return url[:-1] + last


@pytest.mark.parametrize("tamper", [change_key, change_signature])
def test_tampered_get_url_is_refused(
    storage: S3Storage, key: str, tamper: Callable[[str], str]
) -> None:
    put(storage, key, b"secret")
    presigned = storage.presigned_get(key, expires_seconds=EXPIRES)

    response = requests.get(tamper(presigned.url), timeout=HTTP_TIMEOUT)

    assert response.status_code == 403
    assert b"secret" not in response.content


@pytest.mark.parametrize("tamper", [change_key, change_signature])
def test_tampered_put_url_is_refused(
    storage: S3Storage, key: str, tamper: Callable[[str], str]
) -> None:
    presigned = storage.presigned_put(key, content_md5_hex=None, expires_seconds=EXPIRES)
    url = tamper(presigned.url)

    response = requests.put(url, data=b"intruder", timeout=HTTP_TIMEOUT)

    assert response.status_code == 403
    assert storage.head(key) is None
    assert storage.head(key[:-1] + "X") is None


def test_put_url_cannot_be_used_to_get(storage: S3Storage, key: str) -> None:
    put(storage, key, b"secret")
    presigned = storage.presigned_put(key, content_md5_hex=None, expires_seconds=EXPIRES)

    response = requests.get(presigned.url, timeout=HTTP_TIMEOUT)

    assert response.status_code == 403
    assert b"secret" not in response.content


def test_put_signed_with_md5_refuses_corrupted_bytes(storage: S3Storage, key: str) -> None:
    data = random.randbytes(10_000)
    presigned = storage.presigned_put(key, content_md5_hex=md5_hex(data), expires_seconds=EXPIRES)
    corrupted = bytes([data[0] ^ 1]) + data[1:]

    response = requests.put(
        presigned.url, data=corrupted, headers=presigned.headers, timeout=HTTP_TIMEOUT
    )

    assert response.status_code == 400
    assert "BadDigest" in response.text
    assert storage.head(key) is None


def test_put_signed_with_md5_refuses_a_missing_md5_header(storage: S3Storage, key: str) -> None:
    data = random.randbytes(10_000)
    presigned = storage.presigned_put(key, content_md5_hex=md5_hex(data), expires_seconds=EXPIRES)

    response = requests.put(presigned.url, data=data, timeout=HTTP_TIMEOUT)

    assert response.status_code == 403
    assert storage.head(key) is None


def test_put_signed_with_md5_refuses_other_bytes_with_their_md5(
    storage: S3Storage, key: str
) -> None:
    presigned = storage.presigned_put(key, content_md5_hex=md5_hex(b"a"), expires_seconds=EXPIRES)
    other = storage.presigned_put(key, content_md5_hex=md5_hex(b"b"), expires_seconds=EXPIRES)

    response = requests.put(presigned.url, data=b"b", headers=other.headers, timeout=HTTP_TIMEOUT)

    assert response.status_code == 403
    assert storage.head(key) is None


def test_presigned_put_rejects_a_malformed_md5(storage: S3Storage, key: str) -> None:
    with pytest.raises(ValueError):
        storage.presigned_put(key, content_md5_hex="abc", expires_seconds=EXPIRES)


def test_head_of_a_missing_key_is_none(storage: S3Storage, key: str) -> None:
    assert storage.head(key) is None


def test_delete_of_a_missing_key_does_not_raise(storage: S3Storage, key: str) -> None:
    storage.delete(key)
    assert storage.head(key) is None


def test_delete_removes_the_object(storage: S3Storage, key: str) -> None:
    put(storage, key, b"data")

    storage.delete(key)

    assert storage.head(key) is None


def test_upload_stream_stores_a_large_stream_of_unknown_length(
    storage: S3Storage, key: str
) -> None:
    data = random.randbytes(20 * MiB + 12_345)
    # Odd piece sizes and short reads: parts must still be filled to the chunk size.
    stream = IteratorStream(pieces(data, 1_000_003))

    info = storage.upload_stream(key, stream, chunk_size=MIN_PART_SIZE)

    assert (info.size, info.md5_hex) == (len(data), md5_hex(data))
    head = storage.head(key)
    assert head is not None and head.size == len(data)
    # A multipart ETag ("<md5 of part md5s>-<parts>") is no MD5 of the content.
    assert head.md5_hex is None and info.etag == head.etag
    assert get(storage, key) == data


def test_upload_stream_of_a_small_stream_has_an_md5_etag(storage: S3Storage, key: str) -> None:
    data = random.randbytes(100_000)

    info = storage.upload_stream(key, IteratorStream(pieces(data, 4096)))

    assert info == ObjectInfo(size=len(data), etag=md5_hex(data), md5_hex=md5_hex(data))
    assert storage.head(key) == info
    assert get(storage, key) == data


def test_upload_stream_of_an_empty_stream_stores_an_empty_object(
    storage: S3Storage, key: str
) -> None:
    info = storage.upload_stream(key, io.BytesIO(b""))

    assert (info.size, info.md5_hex) == (0, md5_hex(b""))
    assert get(storage, key) == b""


def test_upload_stream_aborts_when_the_stream_fails(storage: S3Storage, key: str) -> None:
    def failing() -> Iterator[bytes]:
        yield random.randbytes(2 * MIN_PART_SIZE)
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        storage.upload_stream(key, IteratorStream(failing()), chunk_size=MIN_PART_SIZE)

    assert storage.head(key) is None
    uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket, Prefix=key)
    assert uploads.get("Uploads", []) == []


def test_upload_stream_refuses_parts_below_the_s3_minimum(storage: S3Storage, key: str) -> None:
    with pytest.raises(ValueError):
        storage.upload_stream(key, io.BytesIO(b"data"), chunk_size=MiB)


@pytest.mark.parametrize("name", ["report.txt", 'my "best" run.fastq.gz', "Größe 10µm.csv"])
def test_presigned_get_with_a_download_name_sets_content_disposition(
    storage: S3Storage, key: str, name: str
) -> None:
    put(storage, key, b"data")
    presigned = storage.presigned_get(key, expires_seconds=EXPIRES, download_name=name)

    response = requests.get(presigned.url, timeout=HTTP_TIMEOUT)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Disposition"] == content_disposition(name)


def test_content_disposition_escapes_quotes_and_encodes_non_ascii() -> None:
    assert content_disposition('a "b".txt') == 'attachment; filename="a \\"b\\".txt"'
    assert content_disposition("Größe.csv") == (
        "attachment; filename=\"Gr__e.csv\"; filename*=UTF-8''Gr%C3%B6%C3%9Fe.csv"
    )
    assert content_disposition("a\r\nSet-Cookie: x") == 'attachment; filename="aSet-Cookie: x"'


def test_presigned_urls_are_signed_for_the_public_endpoint(
    settings: Settings, key: str, storage: S3Storage
) -> None:
    # The same server under another host name, as a proxy in front of S3 would be.
    internal = settings.s3.endpoint_url
    public = internal.replace("127.0.0.1", "localhost")
    assert public != internal, "the test needs an endpoint on 127.0.0.1"
    public_storage = S3Storage(dataclasses.replace(settings.s3, public_endpoint_url=public))
    put(storage, key, b"data")

    presigned = public_storage.presigned_get(key, expires_seconds=EXPIRES)

    assert presigned.url.startswith(public + "/")
    assert requests.get(presigned.url, timeout=HTTP_TIMEOUT).content == b"data"
    # The host is part of the signature: the URL is no good at another one.
    response = requests.get(presigned.url.replace(public, internal), timeout=HTTP_TIMEOUT)
    assert response.status_code == 403


@pytest.fixture
def refusing_endpoint(settings: Settings) -> Iterator[str]:
    """An http URL on which connections are refused.

    The service stack leaves the port just below the S3 port unused. Binding it
    without listening refuses connections and keeps anything else from taking it.
    """
    endpoint = urlsplit(settings.s3.endpoint_url)
    port = (endpoint.port or 80) - 1
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserved:
        reserved.bind(("127.0.0.1", port))
        yield f"http://127.0.0.1:{port}"


def test_ping_fails_quickly_when_nothing_listens(
    settings: Settings, refusing_endpoint: str
) -> None:
    unreachable = S3Storage(
        dataclasses.replace(
            settings.s3, endpoint_url=refusing_endpoint, public_endpoint_url=refusing_endpoint
        )
    )
    attempts = []
    unreachable.client.meta.events.register(
        "before-send.s3", lambda request, **_: attempts.append(request.url)
    )

    with pytest.raises(StorageError, match="not reachable"):
        unreachable.ping()

    # Quick because it gives up after a try or two instead of retrying for long.
    assert 1 <= len(attempts) <= 3


def test_ping_passes_for_the_configured_bucket(storage: S3Storage) -> None:
    storage.ping()


def test_ping_fails_for_a_missing_bucket(settings: Settings) -> None:
    missing = S3Storage(dataclasses.replace(settings.s3, bucket=f"missing-{uuid.uuid4()}"))

    with pytest.raises(StorageError, match="not reachable"):
        missing.ping()


def test_a_missing_bucket_is_created_once(settings: Settings) -> None:
    bucket = f"datameta-new-{uuid.uuid4().hex[:12]}"
    storage = S3Storage(dataclasses.replace(settings.s3, bucket=bucket))
    with pytest.raises(StorageError):
        storage.ping()

    assert storage.create_bucket_if_missing() is True
    storage.ping()
    assert storage.create_bucket_if_missing() is False
    storage.client.delete_bucket(Bucket=bucket)


def test_head_reads_the_object_at_the_apps_endpoint_when_clients_use_another(
    settings: Settings, storage: S3Storage, key: str
) -> None:
    public = settings.s3.endpoint_url.replace("127.0.0.1", "localhost")
    public_storage = S3Storage(dataclasses.replace(settings.s3, public_endpoint_url=public))
    put(storage, key, b"data")

    assert public_storage.head(key) == ObjectInfo(
        size=4, etag=md5_hex(b"data"), md5_hex=md5_hex(b"data")
    )


def test_head_refused_by_s3_is_a_storage_error_not_a_missing_object(
    settings: Settings, key: str
) -> None:
    wrong = S3Storage(dataclasses.replace(settings.s3, secret_key="not-the-secret-key"))

    with pytest.raises(StorageError, match=r"HEAD .* 403"):
        wrong.head(key)


def test_heads_from_many_threads_each_get_their_own_answer(storage: S3Storage) -> None:
    # The HEADs share kept-alive sockets: no thread may read another's answer.
    keys = [f"test/heads/{uuid.uuid4()}" for _ in range(8)]
    for size, key in enumerate(keys, start=1):
        put(storage, key, b"x" * size)
    failures: list[str] = []

    def head_repeatedly(size: int, key: str) -> None:
        for _ in range(25):
            info = storage.head(key)
            if info is None or info.size != size:
                failures.append(f"{key}: {info}")

    threads = [
        threading.Thread(target=head_repeatedly, args=(size, key))
        for size, key in enumerate(keys, start=1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for key in keys:
        storage.delete(key)

    assert failures == []
    assert len(storage.heads.idle) <= storage.heads.pool_size


def test_head_fails_quickly_when_nothing_listens(
    settings: Settings, refusing_endpoint: str
) -> None:
    unreachable = S3Storage(dataclasses.replace(settings.s3, endpoint_url=refusing_endpoint))
    started = time.monotonic()

    with pytest.raises(StorageError, match="HEAD"):
        unreachable.head("files/anything")

    assert time.monotonic() - started < 3


def put_part(storage: S3Storage, key: str, upload_id: str, number: int, data: bytes) -> None:
    [url] = storage.presigned_parts(key, upload_id, [(number, md5_hex(data))], expires_seconds=60)
    response = requests.put(url.url, data=data, headers=url.headers, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text


def test_a_multipart_upload_joins_its_parts_in_order(storage: S3Storage, key: str) -> None:
    first, last = random.randbytes(MIN_PART_SIZE), b"the end"
    upload_id = storage.start_multipart(key)
    put_part(storage, key, upload_id, 2, last)
    put_part(storage, key, upload_id, 1, first)

    held = storage.list_parts(key, upload_id)
    etag = storage.complete_multipart(key, upload_id, held or [])

    assert [(part.number, part.size, part.etag) for part in held or []] == [
        (1, MIN_PART_SIZE, md5_hex(first)),
        (2, len(last), md5_hex(last)),
    ]
    assert etag.endswith("-2")
    assert get(storage, key) == first + last
    info = storage.head(key)
    assert info is not None and info.etag == etag


def test_the_parts_of_an_upload_are_listed_page_by_page(storage: S3Storage, key: str) -> None:
    upload_id = storage.start_multipart(key)
    try:
        for number in (1, 2, 5):
            put_part(storage, key, upload_id, number, number.to_bytes(4, "big"))
        pages, marker = [], 0
        while marker is not None:
            page = storage.requests.list_parts(key, upload_id, marker, page_size=2)
            pages.append([number for number, _, _ in page.parts])
            marker = page.next_marker
        assert pages == [[1, 2], [5]]
    finally:
        storage.abort_multipart(key, upload_id)


def test_an_unknown_upload_has_no_parts_and_aborts_quietly(storage: S3Storage, key: str) -> None:
    upload_id = storage.start_multipart(key)
    storage.abort_multipart(key, upload_id)

    assert storage.list_parts(key, upload_id) is None
    storage.abort_multipart(key, upload_id)  # no error: the upload is gone already


def test_a_completion_naming_a_part_s3_does_not_hold_fails(storage: S3Storage, key: str) -> None:
    upload_id = storage.start_multipart(key)
    try:
        put_part(storage, key, upload_id, 1, b"small")
        [part] = storage.list_parts(key, upload_id) or []
        wrong = dataclasses.replace(part, etag=md5_hex(b"other"))

        with pytest.raises(StorageError, match="multipart completion"):
            storage.complete_multipart(key, upload_id, [wrong])
    finally:
        storage.abort_multipart(key, upload_id)
    assert storage.head(key) is None


def test_multipart_calls_fail_as_storage_errors_when_nothing_listens(
    settings: Settings, refusing_endpoint: str
) -> None:
    unreachable = S3Storage(dataclasses.replace(settings.s3, endpoint_url=refusing_endpoint))

    with pytest.raises(StorageError, match="multipart start"):
        unreachable.start_multipart("tests/storage/unreachable")
    with pytest.raises(StorageError, match="list parts"):
        unreachable.list_parts("tests/storage/unreachable", "some-upload")
