"""/files: content goes straight to S3; the API records, authorizes and verifies it."""

import hashlib
import io

import pytest
import requests
import sqlalchemy as sa

from datameta.db import recorded_statements
from datameta.models import File
from tests.factories import confirm_upload, make_api_key, make_user, upload_file
from tests.helpers import api_headers, assert_api_error, request_statements

CONTENT = b"GATTACA\n" * 4096
MD5 = hashlib.md5(CONTENT).hexdigest()  # noqa: S324
FILE_KEYS = {"id", "name", "contentUploaded", "checksum", "filesize", "userId", "expires"}
UPLOAD_KEYS = {"id", "name", "urlToUpload", "requestHeaders", "userId", "expires"}


@pytest.fixture
def owner(dbsession):
    user = make_user(dbsession)
    return user, make_api_key(dbsession, user)


def announce(testapp, key, name="reads.fq", checksum=MD5, status=200, query=""):
    return testapp.post_json(
        f"/api/v1/files{query}",
        {"name": name, "checksum": checksum},
        headers=api_headers(key),
        status=status,
    )


def test_an_announcement_answers_a_presigned_url_signed_with_the_md5(testapp, owner):
    _, key = owner
    announced = announce(testapp, key).json
    assert set(announced) == UPLOAD_KEYS
    assert set(announced["requestHeaders"]) == {"Content-MD5"}
    assert "X-Amz-Signature=" in announced["urlToUpload"]
    assert "T" in announced["expires"] and "+" not in announced["expires"]


def test_upload_and_confirm_records_the_size(testapp, owner):
    _, key = owner
    confirmed = upload_file(testapp, key, "reads.fq", CONTENT)
    assert set(confirmed) == FILE_KEYS
    assert (confirmed["contentUploaded"], confirmed["filesize"]) == (True, len(CONTENT))


def test_announcing_and_confirming_run_few_statements(testapp, dbengine, dbsession, owner):
    # Who calls (key and user in one query); announcing: the insert, which draws the
    # site id itself; confirming: the file with its submission (none yet) in one query,
    # the update.
    _, key = owner
    # The user's first API use of a while is noted once, here, not in what is counted.
    testapp.get("/api/v1/rpc/whoami", headers=api_headers(key))
    dbsession.flush()
    with recorded_statements(dbengine) as announcing:
        announced = announce(testapp, key).json
    requests.put(
        announced["urlToUpload"], data=CONTENT, headers=announced["requestHeaders"], timeout=30
    ).raise_for_status()
    with recorded_statements(dbengine) as confirming:
        confirm_upload(testapp, key, announced["id"]["site"])
    assert len(request_statements(announcing)) == 2
    assert len(request_statements(confirming)) == 3


def test_corrupted_bytes_are_refused_by_s3_itself(testapp, owner):
    _, key = owner
    announced = announce(testapp, key).json
    response = requests.put(
        announced["urlToUpload"],
        data=CONTENT[:-1] + b"X",
        headers=announced["requestHeaders"],
        timeout=30,
    )
    assert response.status_code == 400
    assert "BadDigest" in response.text
    confirm = confirm_upload(testapp, key, announced["id"]["site"], status=400)
    assert_api_error(confirm, 400, field="contentUploaded")


def test_a_wrong_announced_checksum_gives_409_at_confirmation(testapp, dbsession, owner, app):
    _, key = owner
    announced = announce(testapp, key, checksum="0" * 32).json
    # Content stored past the signed URL (as the app does for 1.x clients): the app's check.
    file = dbsession.scalar(sa.select(File).where(File.site_id == announced["id"]["site"]))
    app.registry["storage"].upload_stream(file.storage_key, io.BytesIO(CONTENT))
    response = confirm_upload(testapp, key, announced["id"]["site"], status=409)
    assert_api_error(response, 409)


def test_a_confirmed_file_is_no_longer_modifiable(testapp, owner):
    _, key = owner
    confirmed = upload_file(testapp, key, "reads.fq", CONTENT)
    response = testapp.put_json(
        f"/api/v1/files/{confirmed['id']['uuid']}",
        {"name": "other.fq"},
        headers=api_headers(key),
        status=403,
    )
    assert_api_error(response, 403, "ResourceNotModifiableError")


def test_empty_names_and_malformed_checksums_are_refused(testapp, owner):
    _, key = owner
    items = assert_api_error(announce(testapp, key, name="", checksum="x", status=400), 400)
    assert {item["field"] for item in items} == {"name", "checksum"}


def test_a_download_url_serves_the_exact_bytes_and_can_redirect(testapp, owner):
    _, key = owner
    confirmed = upload_file(testapp, key, "reads.fq", CONTENT)
    site_id = confirmed["id"]["site"]
    url = testapp.get(f"/api/v1/rpc/get-file-url/{site_id}?expires=5", headers=api_headers(key))
    assert set(url.json) == {"fileId", "fileUrl", "expires", "checksum"}
    assert url.json["expires"].endswith("+00:00")
    downloaded = requests.get(url.json["fileUrl"], timeout=30)
    assert downloaded.content == CONTENT
    assert hashlib.md5(downloaded.content).hexdigest() == MD5  # noqa: S324
    redirect = testapp.get(
        f"/api/v1/rpc/get-file-url/{site_id}?redirect=true", headers=api_headers(key), status=307
    )
    assert redirect.headers["Location"].startswith("http")


def test_a_download_url_names_the_file_and_serves_byte_ranges_for_resuming(testapp, owner):
    _, key = owner
    confirmed = upload_file(testapp, key, "run 7 reads.fq", CONTENT)
    url = testapp.get(
        f"/api/v1/rpc/get-file-url/{confirmed['id']['site']}", headers=api_headers(key)
    ).json["fileUrl"]

    middle = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=30)
    rest = requests.get(url, headers={"Range": "bytes=30000-"}, timeout=30)

    assert middle.status_code == 206
    assert middle.content == CONTENT[1000:2000]
    assert middle.headers["Content-Range"] == f"bytes 1000-1999/{len(CONTENT)}"
    assert middle.headers["Content-Disposition"] == 'attachment; filename="run 7 reads.fq"'
    assert rest.status_code == 206
    assert rest.content == CONTENT[30000:]


def test_download_urls_are_capped(testapp, owner, settings):
    _, key = owner
    confirmed = upload_file(testapp, key, "reads.fq", CONTENT)
    too_long = settings.files_download_max_expiry_minutes + 1
    response = testapp.get(
        f"/api/v1/rpc/get-file-url/{confirmed['id']['site']}?expires={too_long}",
        headers=api_headers(key),
        status=400,
    )
    assert_api_error(response, 400, field="expires")


def test_other_users_cannot_see_or_delete_staged_files(testapp, dbsession, owner):
    user, key = owner
    announced = announce(testapp, key).json
    other = make_api_key(dbsession, make_user(dbsession, group=user.group))
    testapp.get(f"/api/v1/files/{announced['id']['site']}", headers=api_headers(other), status=404)
    testapp.delete(
        f"/api/v1/files/{announced['id']['site']}", headers=api_headers(other), status=404
    )


def test_pending_files_and_deletion(testapp, owner):
    user, key = owner
    first = announce(testapp, key, name="a.fq").json
    second = announce(testapp, key, name="b.fq").json
    pending = testapp.get(f"/api/v1/users/{user.uuid}/pending_files", headers=api_headers(key))
    assert [f["name"] for f in pending.json] == ["a.fq", "b.fq"]
    testapp.delete(f"/api/v1/files/{first['id']['site']}", headers=api_headers(key), status=204)
    testapp.post_json(
        "/api/v1/rpc/delete-files",
        {"fileIds": [second["id"]["uuid"]]},
        headers=api_headers(key),
        status=204,
    )
    pending = testapp.get(f"/api/v1/users/{user.uuid}/pending_files", headers=api_headers(key))
    assert pending.json == []


def test_a_failed_upload_can_be_retried_with_a_fresh_url(testapp, owner):
    _, key = owner
    announced = announce(testapp, key).json
    site_id = announced["id"]["site"]
    # The first attempt delivers half the bytes: S3 refuses them (their MD5 is not the
    # announced one) and keeps nothing.
    failed = requests.put(
        announced["urlToUpload"],
        data=CONTENT[: len(CONTENT) // 2],
        headers=announced["requestHeaders"],
        timeout=30,
    )
    assert failed.status_code == 400
    not_there = confirm_upload(testapp, key, site_id, status=400)
    assert_api_error(not_there, 400, field="contentUploaded")

    fresh = testapp.post(f"/api/v1/files/{site_id}/upload-url", headers=api_headers(key)).json
    response = requests.put(
        fresh["urlToUpload"], data=CONTENT, headers=fresh["requestHeaders"], timeout=30
    )
    assert response.status_code == 200
    confirmed = confirm_upload(testapp, key, site_id).json
    assert (confirmed["contentUploaded"], confirmed["filesize"]) == (True, len(CONTENT))


def test_a_staged_file_is_renamed_and_its_checksum_announced_anew_before_confirming(
    testapp, dbsession, owner, app
):
    _, key = owner
    announced = announce(testapp, key, checksum="0" * 32).json
    site_id = announced["id"]["site"]
    renamed = testapp.put_json(
        f"/api/v1/files/{site_id}",
        {"name": "renamed.fq", "checksum": MD5.upper()},
        headers=api_headers(key),
    ).json
    assert (renamed["name"], renamed["checksum"], renamed["contentUploaded"]) == (
        "renamed.fq",
        MD5,
        False,
    )
    read = testapp.get(f"/api/v1/files/{site_id}", headers=api_headers(key)).json
    assert (read["name"], read["checksum"]) == ("renamed.fq", MD5)
    file = dbsession.scalar(sa.select(File).where(File.site_id == site_id))
    app.registry["storage"].upload_stream(file.storage_key, io.BytesIO(CONTENT))
    confirmed = confirm_upload(testapp, key, site_id).json
    assert (confirmed["contentUploaded"], confirmed["filesize"]) == (True, len(CONTENT))
    read = testapp.get(f"/api/v1/files/{site_id}", headers=api_headers(key)).json
    assert (read["name"], read["contentUploaded"], read["filesize"]) == (
        "renamed.fq",
        True,
        len(CONTENT),
    )
