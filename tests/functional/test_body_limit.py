"""Bodies over the configured size are refused with 413 before they are read; hostile sample
sheets (far too large, zip bombs) are refused quickly with a message that says why."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from webob import Request

from datameta import make_app
from tests.conftest import TEST_INI
from tests.factories import define_sample_sheet
from tests.helpers import api_headers, assert_api_error

LIMIT = 4096


class UnreadableBody(io.RawIOBase):
    """A body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


class CountingBody(io.BytesIO):
    """A body that remembers how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.bytes_read += len(data)
        return data


@pytest.fixture(scope="module")
def small_limit_app(app):
    """The app with a body limit of 4 KiB and an upload limit of 8 KiB."""
    ini = {
        **TEST_INI,
        "datameta.limits.max_body_bytes": str(LIMIT),
        "datameta.limits.max_upload_bytes": str(2 * LIMIT),
    }
    return make_app(ini, dbengine=app.registry["dbengine"])


def send(wsgi_app, path: str, body, *, length: int | None, **headers: str):
    environ = {"wsgi.input": body, "CONTENT_TYPE": "application/json"}
    if length is None:
        environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    else:
        environ["CONTENT_LENGTH"] = str(length)
    request = Request.blank(path, method="POST", environ=environ, headers=headers)
    if length is None:
        request.environ.pop("CONTENT_LENGTH", None)  # streamed: no length announced
    return request.get_response(wsgi_app)


def assert_too_large(response, message: str) -> None:
    assert response.status_int == 413
    [item] = json.loads(response.body)
    assert item["exception"] == "RequestTooLarge"
    assert message in item["message"]


def test_an_api_body_over_the_limit_is_refused_before_it_is_read(small_limit_app, user_key):
    response = send(
        small_limit_app,
        "/api/v1/metadatasets",
        UnreadableBody(),
        length=LIMIT + 1,
        Authorization=f"Bearer {user_key}",
    )
    assert_too_large(response, "larger than 4096 bytes")


def test_a_body_without_a_length_is_refused_once_it_passes_the_limit(small_limit_app):
    body = CountingBody(json.dumps({"record": {"x": "y" * 10 * LIMIT}}).encode())
    response = send(small_limit_app, "/api/v1/metadatasets", body, length=None)
    assert_too_large(response, "larger than 4096 bytes")
    assert body.bytes_read <= LIMIT + 1


def test_a_page_form_over_the_limit_is_refused_before_it_is_read(small_limit_app):
    response = send(small_limit_app, "/login", UnreadableBody(), length=LIMIT + 1)
    assert response.status_int == 413
    assert "The request body is larger than 4096 bytes." in response.text


def test_a_body_within_the_limit_is_served(small_limit_app):
    response = send(small_limit_app, "/api/v1/metadatasets", io.BytesIO(b"{}"), length=2)
    assert response.status_int == 401  # read, understood, and refused for want of a key


def test_file_content_posted_through_the_app_has_a_limit_of_its_own(small_limit_app):
    path = "/api/v1/upload/00000000-0000-0000-0000-000000000000"
    within = send(small_limit_app, path, io.BytesIO(b"x" * (LIMIT + 1)), length=LIMIT + 1)
    assert within.status_int != 413
    over = send(small_limit_app, path, UnreadableBody(), length=2 * LIMIT + 1)
    assert_too_large(over, "larger than 8192 bytes")


def test_a_100_mb_sample_sheet_is_refused_before_it_is_read(app, user_key):
    """With the default limit (64 MiB), which is above the largest sheet read (50 MiB)."""
    response = send(
        app,
        "/api/v1/samplesheets",
        UnreadableBody(),
        length=100 * 10**6,
        Authorization=f"Bearer {user_key}",
    )
    assert_too_large(response, "larger than 64 MiB")


def zip_bomb() -> bytes:
    """An xlsx-looking archive of 80 KiB that unpacks to 200 MiB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (200 * 2**20))
    return buffer.getvalue()


def test_a_zip_bomb_sample_sheet_is_refused_with_a_clear_message(testapp, admin_key):
    define_sample_sheet(testapp, admin_key)
    response = testapp.post(
        "/api/v1/samplesheets",
        upload_files=[("file", "bomb.xlsx", zip_bomb())],
        headers=api_headers(admin_key),
        status=400,
    )
    [item] = assert_api_error(response, 400)
    assert item["field"] == "file"
    assert "unpacks to far more" in item["message"]
