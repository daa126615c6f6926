"""Files uploaded in parts are verified in the background: the worker reads each object once."""

import hashlib

import pytest

from datameta.linting.submission import STILL_VERIFYING, VERIFICATION_FAILED
from tests.factories import (
    PART,
    committed_submitter,
    complete,
    define_sample_sheet,
    make_api_key,
    make_user,
    md5_hex,
    multipart_etag,
    settled_verification,
    stage,
    upload_in_parts,
)
from tests.helpers import api_headers, assert_api_error

CONTENT = b"ACGTTGCA" * (PART // 8) + b"the last, short part"
SHA256 = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def committed_owner(committed_db):
    user = make_user(committed_db)
    key = make_api_key(committed_db, user)
    committed_db.commit()
    return key


def test_the_worker_verifies_a_completed_upload_and_records_its_sha256(
    live_app, committed_owner, worker
):
    key = committed_owner
    file_id = upload_in_parts(live_app, key, CONTENT)
    complete(live_app, key, file_id, checksum=md5_hex(CONTENT))
    state = settled_verification(live_app, key, file_id)
    assert state["state"] == "verified"
    assert (state["checksum"], state["sha256"]) == (md5_hex(CONTENT), SHA256)
    assert state["filesize"] == len(CONTENT)
    file = live_app.get(f"/api/v1/files/{file_id}", headers=api_headers(key)).json
    assert file["contentUploaded"] is True
    # Verified content can be downloaded.
    live_app.get(f"/api/v1/rpc/get-file-url/{file_id}", headers=api_headers(key))


def test_the_worker_records_the_md5_of_a_file_completed_by_its_parts_etag(
    live_app, committed_owner, worker
):
    # No whole-file MD5 was named: S3 checked each part's, the completion the list of
    # parts, and the worker's MD5 of the object becomes the file's checksum.
    key = committed_owner
    file_id = upload_in_parts(live_app, key, CONTENT)
    complete(live_app, key, file_id, multipartEtag=multipart_etag(CONTENT))
    state = settled_verification(live_app, key, file_id)
    assert state["state"] == "verified"
    assert (state["checksum"], state["sha256"]) == (md5_hex(CONTENT), SHA256)
    file = live_app.get(f"/api/v1/files/{file_id}", headers=api_headers(key)).json
    assert (file["checksum"], file["contentUploaded"]) == (md5_hex(CONTENT), True)


def test_a_whole_file_md5_that_does_not_match_fails_verification_and_the_submission(
    live_app, committed_db, worker
):
    key = committed_submitter(committed_db, live_app)
    mset = stage(live_app, key, {"SampleId": "S1", "Reads": "reads.bam"}).json
    file_id = upload_in_parts(live_app, key, CONTENT)
    complete(live_app, key, file_id, checksum=md5_hex(b"other content"))
    state = settled_verification(live_app, key, file_id)
    assert state["state"] == "failed"
    assert md5_hex(b"other content") in state["message"]
    assert state["sha256"] == SHA256
    response = live_app.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [mset["id"]["uuid"]], "fileIds": [file_id], "label": None},
        headers=api_headers(key),
        status=400,
    )
    messages = [item["message"] for item in response.json]
    assert VERIFICATION_FAILED in messages


def test_a_submission_refuses_files_still_verifying(testapp, dbsession):
    # No worker here, and the test's transaction never commits: the file stays verifying.
    admin = make_api_key(dbsession, make_user(dbsession, site_admin=True))
    user = make_user(dbsession)
    key = make_api_key(dbsession, user)
    define_sample_sheet(testapp, admin)
    mset = stage(testapp, key, {"SampleId": "S1", "Reads": "reads.bam"}).json
    file_id = upload_in_parts(testapp, key, CONTENT)
    complete(testapp, key, file_id, checksum=md5_hex(CONTENT))
    response = testapp.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [mset["id"]["uuid"]], "fileIds": [file_id], "label": None},
        headers=api_headers(key),
        status=400,
    )
    assert_api_error(response, 400)
    assert STILL_VERIFYING in [item["message"] for item in response.json]
