"""Presigned part URLs signed locally carry the signature botocore itself would compute."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, quote, urlsplit

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from datameta.storage.s3 import PartSigner
from tests.signing import MD5, NOW, SETTINGS

UPLOAD_ID = "2~abc/def+ghi=="


def botocore_url(endpoint: str, key: str, number: int, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    auth = botocore.auth.S3SigV4QueryAuth(
        Credentials(SETTINGS.access_key, SETTINGS.secret_key),
        "s3",
        SETTINGS.region,
        expires=3600,
    )
    request = AWSRequest(
        method="PUT",
        # As boto3's serializer writes an S3 key into the path.
        url=f"{endpoint}/{SETTINGS.bucket}/{quote(key, safe='/~')}",
        params={"partNumber": number, "uploadId": UPLOAD_ID},
        headers={"Content-MD5": MD5},
    )
    auth.add_auth(request)
    return request.prepare().url


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:9000", "https://s3.example.org", "http://s3.example.org:80"]
)
@pytest.mark.parametrize("key", ["files/0f8e1a2b-uuid", "files/with space+plus"])
def test_a_part_url_carries_botocores_signature(endpoint, key, monkeypatch):
    signer = PartSigner(endpoint, SETTINGS.bucket, SETTINGS)

    [ours] = signer.sign_parts(key, UPLOAD_ID, [(7, MD5)], expires_seconds=3600, now=NOW)
    theirs = botocore_url(endpoint, key, 7, monkeypatch)

    assert query(ours.url) == query(theirs)
    assert ours.url.split("?")[0] == theirs.split("?")[0]
    assert ours.headers == {"Content-MD5": MD5}


def test_each_part_of_a_batch_is_signed_for_its_own_number_and_md5(monkeypatch):
    signer = PartSigner(SETTINGS.endpoint_url, SETTINGS.bucket, SETTINGS)
    other_md5 = base64.b64encode(bytes(range(16, 32))).decode()

    first, second = signer.sign_parts(
        "files/k", UPLOAD_ID, [(1, MD5), (2, other_md5)], expires_seconds=3600, now=NOW
    )

    assert query(first.url) == query(botocore_url(SETTINGS.endpoint_url, "files/k", 1, monkeypatch))
    assert query(first.url)["X-Amz-Signature"] != query(second.url)["X-Amz-Signature"]
    assert second.headers == {"Content-MD5": other_md5}
