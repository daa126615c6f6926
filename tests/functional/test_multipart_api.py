"""/multipart-uploads: large files go to S3 in parts; the API signs, lists, completes, aborts."""

import base64
import hashlib

import pytest
import requests
from sqlalchemy import func, select, text

from datameta import jobs
from datameta.db import recorded_statements
from datameta.models import File
from tests.factories import (
    PART,
    complete,
    confirm_upload,
    make_api_key,
    make_user,
    md5_hex,
    multipart_etag,
    part_urls,
    put_part,
    start,
    upload_file,
    upload_in_parts,
)
from tests.helpers import api_headers, assert_api_error

# Three parts of the smallest size the server chooses, the last one short.
CONTENT = bytes(range(256)) * (PART * 2 // 256) + b"tail of the file"
UPLOAD_KEYS = {"fileId", "name", "size", "partSize", "partCount", "expires"}


@pytest.fixture
def owner(dbsession):
    return make_api_key(dbsession, make_user(dbsession))


@pytest.fixture
def stranger(dbsession):
    return make_api_key(dbsession, make_user(dbsession))


def test_the_server_chooses_the_part_size_within_s3s_limits(testapp, owner):
    upload = start(testapp, owner, size=len(CONTENT))
    assert set(upload.json) == UPLOAD_KEYS
    assert (upload.json["partSize"], upload.json["partCount"]) == (PART, 3)
    # 4 TiB needs parts above the preferred size to stay within 10,000 parts.
    huge = start(testapp, owner, size=4 * 1024**4).json
    assert huge["partCount"] <= 10_000
    assert huge["partSize"] % (1024 * 1024) == 0
    assert 5 * 1024**2 <= huge["partSize"] <= 5 * 1024**3


def test_a_batch_of_part_urls_costs_two_statements_however_many_parts(
    testapp, dbengine, dbsession, owner
):
    # Who calls (key and user in one query) and the upload; each URL is signed locally.
    file_id = start(testapp, owner, size=100 * PART).json["fileId"]["uuid"]
    testapp.get("/api/v1/rpc/whoami", headers=api_headers(owner))  # first API use, noted once
    dbsession.flush()
    with recorded_statements(dbengine) as one:
        part_urls(testapp, owner, file_id, [(1, md5_hex(b"a"))])
    with recorded_statements(dbengine) as hundred:
        urls = part_urls(testapp, owner, file_id, [(n, md5_hex(b"a")) for n in range(1, 101)])
    assert len(urls) == 100
    assert len(one) == len(hundred) == 2


def finish_with_the_signed_first_parts(testapp, owner, upload, first):
    """Sends ``first`` to the URLs the start signed, then part 3, and completes."""
    for url, part in zip(upload["partUrls"], first, strict=True):
        sent = requests.put(url["url"], data=part, headers=url["requestHeaders"], timeout=60)
        assert sent.status_code == 200, sent.text
    file_id = upload["fileId"]["uuid"]
    put_part(testapp, owner, file_id, 3, CONTENT[2 * PART :])
    complete(testapp, owner, file_id, multipartEtag=multipart_etag(CONTENT))


def test_the_start_signs_the_first_parts_hashed_before_it(testapp, owner):
    # One request less per file: a client that hashed its first parts with the part
    # size the server chooses gets their URLs with the upload.
    first = [CONTENT[:PART], CONTENT[PART : 2 * PART]]
    parts = [{"partNumber": n, "md5": md5_hex(part)} for n, part in enumerate(first, 1)]
    upload = start(testapp, owner, size=len(CONTENT), partSize=PART, parts=parts).json
    assert set(upload) == UPLOAD_KEYS | {"partUrls"}
    assert [url["partNumber"] for url in upload["partUrls"]] == [1, 2]
    finish_with_the_signed_first_parts(testapp, owner, upload, first)


def test_parts_hashed_with_another_part_size_get_no_urls_at_the_start(testapp, owner):
    parts = [{"partNumber": 1, "md5": md5_hex(CONTENT[: 2 * PART])}]
    upload = start(testapp, owner, size=len(CONTENT), partSize=2 * PART, parts=parts).json
    assert set(upload) == UPLOAD_KEYS
    assert upload["partSize"] == PART


def test_first_parts_that_are_wrong_refuse_the_start_and_create_nothing(testapp, dbsession, owner):
    files_before = dbsession.scalar(select(func.count()).select_from(File))
    wrong = [{"partNumber": 4, "md5": "0" * 32}, {"partNumber": 1, "md5": "nope"}]
    response = start(testapp, owner, size=len(CONTENT), partSize=PART, parts=wrong, status=400)
    assert {item["field"] for item in response.json} == {"partNumber", "md5"}
    response = start(testapp, owner, size=len(CONTENT), parts=wrong[:1], status=400)
    assert_api_error(response, 400, field="partSize")
    assert dbsession.scalar(select(func.count()).select_from(File)) == files_before


def test_sizes_beyond_5_tib_or_below_one_byte_are_refused(testapp, owner):
    for size in (0, 5 * 1024**4 + 1):
        assert_api_error(start(testapp, owner, size=size, status=400), 400, field="size")


def test_an_upload_in_parts_completes_and_waits_for_verification(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT)
    completed = complete(testapp, owner, file_id, checksum=md5_hex(CONTENT))
    assert completed.json["filesize"] == len(CONTENT)
    assert completed.json["checksum"] == md5_hex(CONTENT)
    # S3 knows no whole-file MD5 of a multipart object: a job verifies it first.
    assert completed.json["contentUploaded"] is False
    state = testapp.get(f"/api/v1/files/{file_id}/verification", headers=api_headers(owner))
    assert state.json["state"] == "verifying"
    # The upload is over: it can no longer be resumed.
    testapp.get(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(owner), status=404)


def test_the_verification_job_is_queued_in_the_completions_own_transaction(
    testapp, dbsession, owner
):
    # The test's transaction never commits: a job queued after the commit would be missing.
    file_id = upload_in_parts(testapp, owner, CONTENT)
    complete(testapp, owner, file_id, multipartEtag=multipart_etag(CONTENT))
    queued = dbsession.execute(
        text(
            "SELECT status FROM procrastinate_jobs"
            " WHERE task_name = :task AND args->>'file_uuid' = :file"
        ),
        {"task": jobs.VERIFY_FILE, "file": file_id},
    ).all()
    assert [row.status for row in queued] == ["todo"]


def test_the_whole_file_md5_may_be_named_at_the_start_instead(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT, checksum=md5_hex(CONTENT))
    assert complete(testapp, owner, file_id).json["checksum"] == md5_hex(CONTENT)


def test_a_completion_without_any_whole_file_md5_or_multipart_etag_is_refused(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT)
    response = complete(testapp, owner, file_id, status=400)
    assert_api_error(response, 400, field="checksum")
    assert "multipartEtag" in response.json[0]["message"]
    # Nothing changed: the upload is still in progress.
    testapp.get(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(owner))


def test_a_completion_may_name_the_parts_etag_instead_of_the_whole_file_md5(testapp, owner):
    # Each part's MD5 was checked by S3 as it arrived; the ETag the client expects
    # names every part it sent, so the parts S3 joins are those the client hashed.
    file_id = upload_in_parts(testapp, owner, CONTENT)
    completed = complete(testapp, owner, file_id, multipartEtag=multipart_etag(CONTENT))
    assert completed.json["filesize"] == len(CONTENT)
    # The whole-file MD5 is unknown until the worker has read the object.
    assert completed.json["checksum"] == ""
    assert completed.json["contentUploaded"] is False
    state = testapp.get(f"/api/v1/files/{file_id}/verification", headers=api_headers(owner))
    assert state.json["state"] == "verifying"
    assert "checksum" not in state.json


def test_a_parts_etag_other_than_the_parts_s3_holds_is_refused_and_changes_nothing(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT)
    # As if the client had hashed other bytes for part 2 than S3 holds.
    other = CONTENT[:PART] + b"X" * PART + CONTENT[2 * PART :]
    response = complete(testapp, owner, file_id, multipartEtag=multipart_etag(other), status=409)
    assert_api_error(response, 409, exception="PartsDiffer", field="multipartEtag")
    held = testapp.get(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(owner)).json
    assert [p["partNumber"] for p in held["parts"]] == [1, 2, 3]
    file = testapp.get(f"/api/v1/files/{file_id}", headers=api_headers(owner)).json
    assert (file["checksum"], file["filesize"]) == ("", None)
    # The right ETag then completes it.
    complete(testapp, owner, file_id, multipartEtag=multipart_etag(CONTENT))


def test_a_parts_etag_with_another_part_count_is_refused(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT)
    digest = multipart_etag(CONTENT).split("-")[0]
    response = complete(testapp, owner, file_id, multipartEtag=f"{digest}-2", status=409)
    assert_api_error(response, 409, exception="PartsDiffer", field="multipartEtag")


def test_a_malformed_parts_etag_is_refused_before_s3_is_asked(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT)
    for etag in ("abc-3", "0" * 32, "0" * 32 + "-0", "0" * 32 + "-x"):
        response = complete(testapp, owner, file_id, multipartEtag=etag, status=400)
        assert_api_error(response, 400, field="multipartEtag")


def test_the_whole_file_md5_and_the_parts_etag_may_both_be_named(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT)
    completed = complete(
        testapp,
        owner,
        file_id,
        checksum=md5_hex(CONTENT),
        multipartEtag=multipart_etag(CONTENT),
    )
    assert completed.json["checksum"] == md5_hex(CONTENT)


def test_a_completion_with_an_md5_other_than_announced_is_refused(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT, checksum=md5_hex(CONTENT))
    response = complete(testapp, owner, file_id, checksum="0" * 32, status=400)
    assert_api_error(response, 400, field="checksum")


def test_s3_refuses_a_part_whose_bytes_do_not_match_its_signed_md5(testapp, owner):
    upload = start(testapp, owner, size=len(CONTENT)).json
    file_id = upload["fileId"]["uuid"]
    part = CONTENT[:PART]
    (url,) = part_urls(testapp, owner, file_id, [(1, md5_hex(part))])
    corrupted = part[:-1] + b"X"
    response = requests.put(url["url"], data=corrupted, headers=url["requestHeaders"], timeout=60)
    assert response.status_code == 400
    assert "BadDigest" in response.text
    held = testapp.get(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(owner)).json
    assert held["parts"] == []


def test_listing_shows_the_parts_s3_holds_so_a_client_can_resume(testapp, owner):
    upload = start(testapp, owner, size=len(CONTENT)).json
    file_id = upload["fileId"]["uuid"]
    put_part(testapp, owner, file_id, 2, CONTENT[PART : 2 * PART])
    listed = testapp.get(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(owner))
    assert [(p["partNumber"], p["size"]) for p in listed.json["parts"]] == [(2, PART)]
    # Resume: send only what is missing, then complete.
    put_part(testapp, owner, file_id, 1, CONTENT[:PART])
    put_part(testapp, owner, file_id, 3, CONTENT[2 * PART :])
    complete(testapp, owner, file_id, checksum=md5_hex(CONTENT))


def test_a_completion_with_missing_parts_names_them_and_changes_nothing(testapp, owner):
    upload = start(testapp, owner, size=len(CONTENT)).json
    file_id = upload["fileId"]["uuid"]
    put_part(testapp, owner, file_id, 2, CONTENT[PART : 2 * PART])
    response = complete(testapp, owner, file_id, checksum=md5_hex(CONTENT), status=409)
    assert_api_error(response, 409, exception="MissingParts", field="parts")
    assert "1, 3" in response.json[0]["message"]
    # Still in progress, with the part S3 holds.
    held = testapp.get(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(owner)).json
    assert [p["partNumber"] for p in held["parts"]] == [2]


def test_a_part_of_the_wrong_size_is_refused_at_completion(testapp, owner):
    upload = start(testapp, owner, size=len(CONTENT)).json
    file_id = upload["fileId"]["uuid"]
    put_part(testapp, owner, file_id, 1, CONTENT[:PART])
    put_part(testapp, owner, file_id, 2, CONTENT[PART : 2 * PART])
    put_part(testapp, owner, file_id, 3, CONTENT[2 * PART :] + b"more")
    response = complete(testapp, owner, file_id, checksum=md5_hex(CONTENT), status=409)
    assert_api_error(response, 409, exception="WrongPartSize", field="parts")


def test_part_numbers_and_md5s_are_checked_before_anything_is_signed(testapp, owner):
    upload = start(testapp, owner, size=len(CONTENT)).json
    file_id = upload["fileId"]["uuid"]
    response = testapp.post_json(
        f"/api/v1/multipart-uploads/{file_id}/part-urls",
        {"parts": [{"partNumber": 4, "md5": "0" * 32}, {"partNumber": 1, "md5": "nope"}]},
        headers=api_headers(owner),
        status=400,
    )
    fields = {item["field"] for item in response.json}
    assert fields == {"partNumber", "md5"}


def test_another_users_upload_is_not_found_for_any_call(testapp, owner, stranger):
    upload = start(testapp, owner, size=len(CONTENT)).json
    file_id = upload["fileId"]["site"]
    base = f"/api/v1/multipart-uploads/{file_id}"
    headers = api_headers(stranger)
    assert_api_error(testapp.get(base, headers=headers, status=404), 404)
    parts = {"parts": [{"partNumber": 1, "md5": "0" * 32}]}
    response = testapp.post_json(f"{base}/part-urls", parts, headers=headers, status=404)
    assert_api_error(response, 404)
    response = testapp.post_json(f"{base}/complete", {}, headers=headers, status=404)
    assert_api_error(response, 404)
    assert_api_error(testapp.delete(base, headers=headers, status=404), 404)
    # The owner's upload is untouched.
    testapp.get(base, headers=api_headers(owner))


def test_aborting_drops_the_upload_and_the_file(testapp, owner):
    upload = start(testapp, owner, size=len(CONTENT)).json
    file_id = upload["fileId"]["uuid"]
    put_part(testapp, owner, file_id, 1, CONTENT[:PART])
    testapp.delete(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(owner), status=204)
    testapp.get(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(owner), status=404)
    testapp.get(f"/api/v1/files/{file_id}", headers=api_headers(owner), status=404)


def test_a_file_uploaded_in_parts_cannot_be_confirmed_as_a_single_upload(testapp, owner):
    file_id = upload_in_parts(testapp, owner, CONTENT, checksum=md5_hex(CONTENT))
    response = confirm_upload(testapp, owner, file_id, status=409)
    assert_api_error(response, 409, exception="MultipartUpload")


def test_the_file_reads_an_empty_checksum_until_the_md5_is_named(testapp, owner):
    upload = start(testapp, owner, size=len(CONTENT)).json
    file = testapp.get(f"/api/v1/files/{upload['fileId']['uuid']}", headers=api_headers(owner))
    assert file.json["checksum"] == ""
    assert "checksum" not in upload


def test_single_put_files_read_as_verified_by_s3s_own_md5_check(testapp, owner):
    content = b"ACGT" * 1000
    file = upload_file(testapp, owner, "small.fq", content)
    state = testapp.get(
        f"/api/v1/files/{file['id']['uuid']}/verification", headers=api_headers(owner)
    ).json
    assert state["state"] == "verified"
    assert state["checksum"] == hashlib.md5(content).hexdigest()  # noqa: S324


# -- the compact body of part-urls: a first part number and the MD5s that follow ------


def md5_b64(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content).digest()).decode()  # noqa: S324


def compact_part_urls(testapp, key, file_id, body, status=200):
    return testapp.post_json(
        f"/api/v1/multipart-uploads/{file_id}/part-urls",
        body,
        headers=api_headers(key),
        status=status,
    )


def test_consecutive_parts_may_be_named_by_the_first_number_and_their_md5s(testapp, owner):
    # {"firstPart": N, "md5s": [...]}: parts N, N+1, ... with their MD5s in base64
    # (as Content-MD5 carries them); two keys per batch instead of two per part.
    file_id = start(testapp, owner, size=len(CONTENT)).json["fileId"]["uuid"]
    parts = [CONTENT[:PART], CONTENT[PART : 2 * PART], CONTENT[2 * PART :]]
    body = {"firstPart": 2, "md5s": [md5_b64(part) for part in parts[1:]]}
    urls = compact_part_urls(testapp, owner, file_id, body).json["parts"]
    assert [url["partNumber"] for url in urls] == [2, 3]
    put_part(testapp, owner, file_id, 1, parts[0])
    for url, part in zip(urls, parts[1:], strict=True):
        assert url["requestHeaders"]["Content-MD5"] == md5_b64(part)
        sent = requests.put(url["url"], data=part, headers=url["requestHeaders"], timeout=60)
        assert sent.status_code == 200, sent.text
    complete(testapp, owner, file_id, multipartEtag=multipart_etag(CONTENT))


def test_the_compact_body_signs_as_the_list_of_parts_does(testapp, owner):
    file_id = start(testapp, owner, size=len(CONTENT)).json["fileId"]["uuid"]
    part = CONTENT[:PART]
    (listed,) = part_urls(testapp, owner, file_id, [(1, md5_hex(part))])
    body = {"firstPart": 1, "md5s": [md5_b64(part)]}
    (compact,) = compact_part_urls(testapp, owner, file_id, body).json["parts"]
    assert compact["requestHeaders"] == listed["requestHeaders"]
    assert compact["url"].split("?")[0] == listed["url"].split("?")[0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "parts": [{"partNumber": 1, "md5": "0" * 32}],
                "firstPart": 1,
                "md5s": ["A" * 22 + "=="],
            },
            "parts",
        ),
        ({}, "parts"),
        ({"firstPart": 1}, "md5s"),
        ({"md5s": ["A" * 22 + "=="]}, "firstPart"),
        ({"firstPart": 0, "md5s": ["A" * 22 + "=="]}, "firstPart"),
        ({"firstPart": 3, "md5s": ["A" * 22 + "==", "A" * 22 + "=="]}, "firstPart"),
        ({"firstPart": 1, "md5s": []}, "md5s"),
        ({"firstPart": 1, "md5s": ["A" * 22 + "=="] * 101}, "md5s"),
        ({"firstPart": 1, "md5s": ["0" * 32]}, "md5s"),
        ({"firstPart": 1, "md5s": ["not base64 at all!!!!!=="]}, "md5s"),
    ],
    ids=[
        "both bodies",
        "neither",
        "first part without md5s",
        "md5s without first part",
        "part 0",
        "beyond the last part",
        "no md5s",
        "more than 100",
        "hex instead of base64",
        "not base64",
    ],
)
def test_a_compact_body_that_is_incomplete_or_out_of_range_is_refused(testapp, owner, body, field):
    file_id = start(testapp, owner, size=len(CONTENT)).json["fileId"]["uuid"]
    response = compact_part_urls(testapp, owner, file_id, body, status=400)
    assert_api_error(response, 400, field=field)


def test_a_compact_batch_costs_two_statements_too(testapp, dbengine, dbsession, owner):
    file_id = start(testapp, owner, size=100 * PART).json["fileId"]["uuid"]
    testapp.get("/api/v1/rpc/whoami", headers=api_headers(owner))  # first API use, noted once
    dbsession.flush()
    with recorded_statements(dbengine) as hundred:
        body = {"firstPart": 1, "md5s": [md5_b64(b"a")] * 100}
        urls = compact_part_urls(testapp, owner, file_id, body).json["parts"]
    assert [url["partNumber"] for url in urls] == list(range(1, 101))
    assert len(hundred) == 2


def test_the_start_takes_the_first_parts_compactly_too(testapp, owner):
    # {"md5s": [...]} with the start: parts 1, 2, ... in base64, as part-urls takes them.
    first = [CONTENT[:PART], CONTENT[PART : 2 * PART]]
    body = {"partSize": PART, "md5s": [md5_b64(part) for part in first]}
    upload = start(testapp, owner, size=len(CONTENT), **body).json
    assert [url["partNumber"] for url in upload["partUrls"]] == [1, 2]
    finish_with_the_signed_first_parts(testapp, owner, upload, first)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"md5s": ["A" * 22 + "=="]}, "partSize"),
        ({"partSize": PART, "md5s": ["A" * 22 + "=="] * 4}, "partNumber"),
        ({"partSize": PART, "md5s": ["0" * 32]}, "md5s"),
        (
            {
                "partSize": PART,
                "md5s": ["A" * 22 + "=="],
                "parts": [{"partNumber": 1, "md5": "0" * 32}],
            },
            "parts",
        ),
    ],
    ids=["without part size", "beyond the last part", "hex instead of base64", "both forms"],
)
def test_compact_first_parts_that_are_wrong_refuse_the_start_and_create_nothing(
    testapp, dbsession, owner, body, field
):
    files_before = dbsession.scalar(select(func.count()).select_from(File))
    response = start(testapp, owner, size=len(CONTENT), status=400, **body)
    assert_api_error(response, 400, field=field)
    assert dbsession.scalar(select(func.count()).select_from(File)) == files_before
