"""Presigned object URLs signed locally are the very URLs boto3 itself presigns."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.config import Config

from datameta.storage.s3 import ObjectSigner
from tests.signing import MD5, NOW, SETTINGS

ENDPOINTS = ["http://127.0.0.1:9000", "https://s3.example.org", "http://s3.example.org:80"]
KEYS = ["files/0f8e1a2b-uuid", "files/with space+plus", "files/ümlaut~tilde"]


def boto3_url(
    endpoint: str, method: str, params: dict, monkeypatch: pytest.MonkeyPatch | None
) -> str:
    """The URL boto3 presigns, as S3Storage configured it before signing moved into the app
    (at NOW, unless the caller set botocore's clock itself and passes no ``monkeypatch``)."""
    if monkeypatch is not None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    client = boto3.session.Session(
        aws_access_key_id=SETTINGS.access_key,
        aws_secret_access_key=SETTINGS.secret_key,
        region_name=SETTINGS.region,
    ).client(
        "s3",
        endpoint_url=endpoint,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    return client.generate_presigned_url(
        method, Params={"Bucket": SETTINGS.bucket, **params}, ExpiresIn=3600
    )


def parts(url: str) -> tuple[str, dict[str, list[str]]]:
    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc}{split.path}", parse_qs(split.query)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("key", KEYS)
def test_a_put_signed_with_its_md5_is_boto3s_presigned_put(endpoint, key, monkeypatch):
    signer = ObjectSigner(endpoint, SETTINGS.bucket, SETTINGS)

    ours = signer.presign("PUT", key, expires_seconds=3600, md5_base64=MD5, now=NOW)
    theirs = boto3_url(endpoint, "put_object", {"Key": key, "ContentMD5": MD5}, monkeypatch)

    assert parts(ours.url) == parts(theirs)
    assert ours.headers == {"Content-MD5": MD5}
    assert ours.expires_at == datetime(2026, 11, 30, 13, 34, 56, tzinfo=UTC)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_put_without_md5_is_boto3s_presigned_put(endpoint, monkeypatch):
    signer = ObjectSigner(endpoint, SETTINGS.bucket, SETTINGS)

    ours = signer.presign("PUT", KEYS[1], expires_seconds=3600, now=NOW)

    assert parts(ours.url) == parts(
        boto3_url(endpoint, "put_object", {"Key": KEYS[1]}, monkeypatch)
    )
    assert ours.headers == {}


@pytest.mark.parametrize("key", KEYS)
def test_a_head_is_boto3s_presigned_head(key, monkeypatch):
    signer = ObjectSigner(SETTINGS.endpoint_url, SETTINGS.bucket, SETTINGS)

    ours = signer.presign("HEAD", key, expires_seconds=3600, now=NOW)
    theirs = boto3_url(SETTINGS.endpoint_url, "head_object", {"Key": key}, monkeypatch)

    assert parts(ours.url) == parts(theirs)


def test_the_md5_is_part_of_the_signature():
    signer = ObjectSigner(SETTINGS.endpoint_url, SETTINGS.bucket, SETTINGS)
    other = base64.b64encode(bytes(range(1, 17))).decode()

    first = signer.presign("PUT", "files/k", expires_seconds=60, md5_base64=MD5, now=NOW)
    second = signer.presign("PUT", "files/k", expires_seconds=60, md5_base64=other, now=NOW)

    assert parts(first.url)[1]["X-Amz-Signature"] != parts(second.url)[1]["X-Amz-Signature"]


def test_urls_signed_on_the_next_day_are_boto3s_of_that_day(monkeypatch):
    # The part of the query that holds for a whole day is kept: it must not outlive it.
    signer = ObjectSigner(SETTINGS.endpoint_url, SETTINGS.bucket, SETTINGS)
    key = "files/0f8e1a2b-uuid"
    signer.presign("PUT", key, expires_seconds=3600, md5_base64=MD5, now=NOW)
    tomorrow = NOW + timedelta(days=1)
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda: tomorrow.replace(tzinfo=None)
    )

    ours = signer.presign("PUT", key, expires_seconds=3600, md5_base64=MD5, now=tomorrow)
    theirs = boto3_url(SETTINGS.endpoint_url, "put_object", {"Key": key, "ContentMD5": MD5}, None)

    assert parts(ours.url) == parts(theirs)
