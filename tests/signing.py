"""Fixed credentials, time and MD5 under which locally computed S3 signatures are
compared with botocore's (the credentials are AWS's documented example ones)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from datameta.config import S3Settings

SETTINGS = S3Settings(
    endpoint_url="http://127.0.0.1:9000",
    public_endpoint_url="",
    bucket="data-files",
    region="eu-central-1",
    access_key="AKIDEXAMPLE",
    secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
)
NOW = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)
MD5 = base64.b64encode(bytes(range(16))).decode()
