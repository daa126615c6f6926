"""Sites with DataMeta 1.x clients: uploads go through the app, which streams them to S3."""

import hashlib

import pytest

from datameta import make_app
from tests.conftest import TEST_INI
from tests.factories import confirm_upload, make_api_key, make_user
from tests.helpers import api_headers, assert_api_error, client_in_transaction

CONTENT = b"ACGTN" * 200_000
MD5 = hashlib.md5(CONTENT).hexdigest()  # noqa: S324


@pytest.fixture(scope="module")
def legacy_app(dbengine, settings):
    ini = {**TEST_INI, "datameta.files.upload_via_app": "true"}
    return make_app(ini, dbengine=dbengine)


@pytest.fixture
def client(legacy_app, tm, dbsession):
    return client_in_transaction(legacy_app, tm, dbsession, host="datameta.example.org")


@pytest.fixture
def key(dbsession):
    return make_api_key(dbsession, make_user(dbsession))


def announce(client, key, checksum=MD5, query=""):
    return client.post_json(
        f"/api/v1/files{query}", {"name": "r.fq", "checksum": checksum}, headers=api_headers(key)
    ).json


def post_content(client, announced, path=None, status=204):
    """Post the content as DataMeta 1.x clients do: multipart field "file", the token as header."""
    path = path or f"/api/v1/upload/{announced['id']['uuid']}"
    return client.post(
        path,
        upload_files=[("file", "r.fq", CONTENT)],
        headers=announced["requestHeaders"],
        status=status,
    )


def test_the_upload_url_points_at_the_app_with_an_access_token(client, key):
    announced = announce(client, key)
    assert announced["urlToUpload"] == (
        f"http://datameta.example.org/api/v1/upload/{announced['id']['uuid']}"
    )
    assert set(announced["requestHeaders"]) == {"Access-Token"}
    assert len(announced["requestHeaders"]["Access-Token"]) == 64


def test_a_multipart_post_as_datameta_1_clients_send_it_then_confirm(client, key):
    announced = announce(client, key)
    post_content(client, announced, announced["urlToUpload"])
    confirmed = confirm_upload(client, key, announced["id"]["site"]).json
    assert confirmed["filesize"] == len(CONTENT)


def test_a_raw_put_works_too(client, key):
    announced = announce(client, key)
    path = f"/api/v1/upload/{announced['id']['uuid']}"
    client.put(
        path,
        CONTENT,
        headers={**announced["requestHeaders"], "Content-Type": "application/octet-stream"},
        status=204,
    )


def test_a_wrong_token_is_404_and_a_missing_part_400(client, key):
    announced = announce(client, key)
    path = f"/api/v1/upload/{announced['id']['uuid']}"
    response = client.post(
        path, upload_files=[("file", "r.fq", CONTENT)], headers={"Access-Token": "x"}, status=404
    )
    assert_api_error(response, 404)
    response = client.post(path, {"other": "x"}, headers=announced["requestHeaders"], status=400)
    assert_api_error(response, 400, field="file")


def test_a_body_that_breaks_off_is_refused_and_the_token_stays_valid(client, key):
    announced = announce(client, key)
    path = f"/api/v1/upload/{announced['id']['uuid']}"
    head = b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="r.fq"\r\n\r\n'
    # Sent as bytes: webtest would write a multipart body of its own, a whole one.
    response = client.request(
        path,
        method="POST",
        body=head + CONTENT[:1000],
        headers=announced["requestHeaders"],
        content_type="multipart/form-data; boundary=XYZ",
        status=400,
    )
    [item] = assert_api_error(response, 400, "ValidationError", field="file")
    assert "broken" in item["message"]
    post_content(client, announced)


def test_a_wrong_checksum_is_found_at_confirmation(client, key):
    announced = announce(client, key, checksum="1" * 32)
    post_content(client, announced)
    assert_api_error(confirm_upload(client, key, announced["id"]["site"], status=409), 409)


def test_new_clients_can_still_ask_for_the_direct_url(client, key):
    announced = announce(client, key, query="?directUpload=true")
    assert set(announced["requestHeaders"]) == {"Content-MD5"}
