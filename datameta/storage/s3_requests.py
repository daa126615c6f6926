"""The multipart calls the app makes for every large file, as plain signed HTTP requests.

Through boto3 each of these calls costs 3 to 5 ms of CPU (serialization, endpoint
rules, event hooks, response parsing), several times the request to S3 itself; an
upload's start and completion make three. Here each is one SigV4-signed request
over a pooled connection and a few lines of XML: about a tenth of that.
Behaviour follows boto3's client as ``S3Storage`` configures it: the same
timeouts, one retry of a failed connection or a 5xx answer, and S3's error code
from the answer's XML (an answer without one is named by its HTTP status).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import urllib3

from datameta.storage.sigv4 import Endpoint, object_path, uri_encode

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
ATTEMPTS = 2  # as S3Storage's boto3 client: one retry
_RETRIED_STATUS = {500, 502, 503, 504}


class S3RequestError(Exception):
    """S3 refused a request, or could not be reached (``code`` is then "Unreachable")."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code} ({status}): {message}" if status else f"{code}: {message}")
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ListedParts:
    """One page of an upload's parts: ``(number, size, ETag without quotes)``."""

    parts: list[tuple[int, int, str]]
    next_marker: int | None  # None on the last page


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element, name: str) -> str:
    # S3 answers in its namespace; some compatible servers leave it out.
    found = element.find(_NS + name)
    if found is None:
        found = element.find(name)
    return (found.text or "") if found is not None else ""


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return element.findall(_NS + name) or element.findall(name)


def _parse(body: bytes) -> ET.Element | None:
    try:
        # The configured S3 server's answer; expat refuses external entities and
        # bounds entity expansion.
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError:
        return None


class S3Requests:
    """Signed requests to one bucket over a pool of kept-alive connections (thread-safe)."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int = 10,
    ) -> None:
        self.endpoint = endpoint
        self.pool = urllib3.connection_from_url(
            endpoint.base,
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=False,
        )

    def _request(
        self, method: str, key: str, query: dict[str, str], body: bytes = b""
    ) -> tuple[urllib3.BaseHTTPResponse, ET.Element | None]:
        path = object_path(self.endpoint.path_prefix, key)
        url = path
        if query:
            url += "?" + "&".join(
                f"{name}={value}" if value else name for name, value in self._encoded(query)
            )
        error: S3RequestError | None = None
        for _attempt in range(ATTEMPTS):
            headers = self.endpoint.signed_headers(
                method, path, query, payload=body, now=datetime.now(UTC)
            )
            try:
                response = self.pool.urlopen(
                    method, url, body=body or None, headers=headers, redirect=False
                )
            except urllib3.exceptions.HTTPError as failure:
                error = S3RequestError("Unreachable", str(failure))
                continue
            root = _parse(response.data) if response.data else None
            if response.status >= 300 or (root is not None and _local(root.tag) == "Error"):
                # S3 may answer a completion with 200 and an error in the body.
                code = _text(root, "Code") if root is not None else ""
                message = _text(root, "Message") if root is not None else ""
                error = S3RequestError(code or str(response.status), message, response.status)
                if response.status in _RETRIED_STATUS or code in ("InternalError", "SlowDown"):
                    continue
                raise error
            return response, root
        assert error is not None
        raise error

    @staticmethod
    def _encoded(query: dict[str, str]) -> list[tuple[str, str]]:
        return [(uri_encode(name), uri_encode(value)) for name, value in sorted(query.items())]

    def _answer(
        self, method: str, key: str, query: dict[str, str], body: bytes = b""
    ) -> ET.Element:
        _, root = self._request(method, key, query, body)
        if root is None:
            raise S3RequestError("MalformedAnswer", "S3 answered without the expected XML")
        return root

    def create_multipart_upload(self, key: str) -> str:
        root = self._answer("POST", key, {"uploads": ""})
        upload_id = _text(root, "UploadId")
        if not upload_id:
            raise S3RequestError("MalformedAnswer", "S3 named no upload id")
        return upload_id

    def list_parts(
        self, key: str, upload_id: str, marker: int = 0, *, page_size: int | None = None
    ) -> ListedParts:
        """The parts after number ``marker``, a page of at most ``page_size`` (S3: 1,000)."""
        query = {"uploadId": upload_id}
        if marker:
            query["part-number-marker"] = str(marker)
        if page_size is not None:
            query["max-parts"] = str(page_size)
        root = self._answer("GET", key, query)
        parts = [
            (int(_text(part, "PartNumber")), int(_text(part, "Size")), _text(part, "ETag"))
            for part in _children(root, "Part")
        ]
        truncated = _text(root, "IsTruncated").lower() == "true"
        return ListedParts(
            [(number, size, etag.strip('"')) for number, size, etag in parts],
            int(_text(root, "NextPartNumberMarker")) if truncated else None,
        )

    def complete_multipart_upload(
        self, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> str:
        """Join ``(number, ETag without quotes)`` parts; returns the object's ETag."""
        body = (
            '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            + "".join(
                f"<Part><ETag>&quot;{escape(etag)}&quot;</ETag><PartNumber>{number}</PartNumber></Part>"
                for number, etag in parts
            )
            + "</CompleteMultipartUpload>"
        ).encode()
        root = self._answer("POST", key, {"uploadId": upload_id}, body)
        return _text(root, "ETag").strip('"')

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        self._request("DELETE", key, {"uploadId": upload_id})
