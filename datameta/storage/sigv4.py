"""AWS Signature Version 4 for S3, computed directly: the few hashes it takes, without
botocore's per-request machinery (serializers, event hooks, endpoint rules).

One place for the signing that the app does itself where botocore costs too much:
presigned part URLs (``s3.PartSigner``) and the multipart calls of
``s3_requests.S3Requests``. Unit tests hold both equal to botocore's signatures
for the same request and time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote, urlsplit

SIGV4_TIME = "%Y%m%dT%H%M%SZ"
ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def uri_encode(value: str) -> str:
    """SigV4's encoding of a query name or value: everything but unreserved characters."""
    return quote(value, safe="-_.~")


# What the encoding of an object's key leaves as it is: such keys (all the app makes,
# "files/<uuid>") need no encoding.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.~/-]*")


def object_path(path_prefix: str, key: str) -> str:
    """The canonical (and sent) path of an object: the key encoded, its slashes kept."""
    if _PLAIN_KEY.fullmatch(key):
        return path_prefix + key
    return path_prefix + quote(key, safe="/~")


@lru_cache(maxsize=8)
def signing_key(secret_key: str, day: str, region: str) -> bytes:
    """The day's key: derived by four HMACs, the same for every request of that day."""
    key = ("AWS4" + secret_key).encode()
    for step in (day, region, "s3", "aws4_request"):
        key = hmac.digest(key, step.encode(), "sha256")
    return key


class Endpoint:
    """Where a bucket is reached, with path-style addressing, and the credentials for it."""

    def __init__(
        self, endpoint_url: str, bucket: str, *, region: str, access_key: str, secret_key: str
    ) -> None:
        parts = urlsplit(endpoint_url)
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        # The Host header as clients send it: without the scheme's default port.
        self.host = (
            parts.hostname
            if parts.port is None or parts.port == default_port
            else f"{parts.hostname}:{parts.port}"
        ) or ""
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.path_prefix = parts.path.rstrip("/") + "/" + quote(bucket, safe="/~") + "/"
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key

    def scope(self, day: str) -> str:
        return f"{day}/{self.region}/s3/aws4_request"

    def signature(self, timestamp: str, canonical_request: str) -> str:
        day = timestamp[:8]
        to_sign = (
            f"{ALGORITHM}\n{timestamp}\n{self.scope(day)}\n"
            + hashlib.sha256(canonical_request.encode()).hexdigest()
        )
        key = signing_key(self.secret_key, day, self.region)
        return hmac.digest(key, to_sign.encode(), "sha256").hex()

    def signed_headers(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        *,
        payload: bytes,
        now: datetime,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The headers of a request authorized in its Authorization header.

        ``path`` is already encoded (``object_path``); ``query`` is plain text. The
        payload's SHA-256 is signed, as botocore does over plain HTTP.
        """
        timestamp = now.strftime(SIGV4_TIME)
        all_headers = {
            **{name.lower(): value.strip() for name, value in (headers or {}).items()},
            "host": self.host,
            "x-amz-content-sha256": hashlib.sha256(payload).hexdigest()
            if payload
            else EMPTY_SHA256,
            "x-amz-date": timestamp,
        }
        names = sorted(all_headers)
        canonical_headers = "".join(f"{name}:{all_headers[name]}\n" for name in names)
        signed_names = ";".join(names)
        canonical_query = "&".join(
            f"{uri_encode(name)}={uri_encode(value)}" for name, value in sorted(query.items())
        )
        canonical = (
            f"{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_names}\n"
            + all_headers["x-amz-content-sha256"]
        )
        signature = self.signature(timestamp, canonical)
        all_headers["authorization"] = (
            f"{ALGORITHM} Credential={self.access_key}/{self.scope(timestamp[:8])}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return all_headers
