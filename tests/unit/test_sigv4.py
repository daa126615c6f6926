"""Requests the app signs itself carry the Authorization header botocore would compute."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from datameta.storage.sigv4 import Endpoint, object_path

REGION = "eu-central-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)
UPLOAD_ID = "2~abc/def+ghi=="
COMPLETION = b'<CompleteMultipartUpload><Part><ETag>"0a"</ETag><PartNumber>1</PartNumber></Part>'


def botocore_headers(
    endpoint: str, key: str, method: str, params: dict[str, str], body: bytes, monkeypatch
) -> dict[str, str]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(
        method=method,
        url=f"{endpoint}/bucket/{quote(key, safe='/~')}",
        params=params,
        data=body,
    )
    botocore.auth.S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:9000", "https://s3.example.org", "http://s3.example.org:80"]
)
@pytest.mark.parametrize("key", ["files/0f8e1a2b-uuid", "files/with space+plus"])
@pytest.mark.parametrize(
    ("method", "params", "body"),
    [
        ("POST", {"uploads": ""}, b""),  # start
        ("GET", {"uploadId": UPLOAD_ID, "part-number-marker": "1000"}, b""),  # list parts
        ("POST", {"uploadId": UPLOAD_ID}, COMPLETION),  # complete
        ("DELETE", {"uploadId": UPLOAD_ID}, b""),  # abort
    ],
)
def test_a_request_carries_botocores_signature(endpoint, key, method, params, body, monkeypatch):
    signer = Endpoint(
        endpoint, "bucket", region=REGION, access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )

    ours = signer.signed_headers(
        method, object_path(signer.path_prefix, key), params, payload=body, now=NOW
    )
    theirs = botocore_headers(endpoint, key, method, params, body, monkeypatch)

    assert ours["authorization"] == theirs["authorization"]
    assert ours["x-amz-date"] == theirs["x-amz-date"]
    assert ours["x-amz-content-sha256"] == theirs["x-amz-content-sha256"]
