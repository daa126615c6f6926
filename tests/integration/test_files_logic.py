"""Files go straight to S3; the app verifies them by HEAD, never by reading the bytes."""

import base64
import dataclasses
import hashlib
import io
import uuid
from dataclasses import replace

import pytest
import requests
from sqlalchemy import select

from datameta.db import recorded_statements
from datameta.errors import Conflict, NotFound, NotModifiable, ValidationFailed
from datameta.logic.files import (
    announce_file,
    delete_files,
    download_url,
    expected_upload,
    get_file,
    pending_files,
    store_upload,
    update_file,
)
from datameta.logic.metadata import save_definition
from datameta.logic.metadatasets import stage_records
from datameta.logic.submissions import create_submission
from datameta.models import File
from tests.factories import SAMPLE_ID, make_user

CONTENT = b"ACGT" * 1000
MD5 = hashlib.md5(CONTENT).hexdigest()  # noqa: S324 (MD5 is what DataMeta clients announce)


@pytest.fixture
def storage(app):
    return app.registry["storage"]


@pytest.fixture
def owner(dbsession):
    return make_user(dbsession)


def app_upload_url(file_uuid) -> str:
    return f"http://x/api/v1/upload/{file_uuid}"


def announce(dbsession, owner, storage, settings, *, via_app=False, **kwargs):
    """Announce a file on a site that takes uploads through the app (``via_app``) or not."""
    settings = dataclasses.replace(settings, files_upload_via_app=via_app)
    values = {"name": "reads.fq", "checksum": MD5, "app_upload_url": app_upload_url, **kwargs}
    return announce_file(dbsession, owner, storage=storage, settings=settings, **values)


def test_an_announced_file_is_uploaded_with_the_given_url_and_headers(
    dbsession, owner, storage, settings
):
    announcement = announce(dbsession, owner, storage, settings)
    expected_md5 = base64.b64encode(bytes.fromhex(MD5)).decode()
    assert announcement.headers == {"Content-MD5": expected_md5}
    assert requests.put(announcement.url, data=CONTENT, headers=announcement.headers).ok
    file = update_file(
        dbsession, owner, announcement.file.site_id, storage=storage, content_uploaded=True
    )
    assert (file.content_uploaded, file.filesize) == (True, len(CONTENT))


def test_s3_refuses_bytes_that_do_not_match_the_announced_md5(dbsession, owner, storage, settings):
    announcement = announce(dbsession, owner, storage, settings)
    response = requests.put(announcement.url, data=CONTENT + b"x", headers=announcement.headers)
    assert response.status_code == 400  # BadDigest: nothing was stored
    with pytest.raises(ValidationFailed, match="No data has been uploaded"):
        update_file(
            dbsession, owner, announcement.file.site_id, storage=storage, content_uploaded=True
        )


def test_a_wrong_announced_checksum_is_a_conflict_at_freeze(dbsession, owner, storage, settings):
    wrong = "0" * 32
    announcement = announce(dbsession, owner, storage, settings, checksum=wrong)
    # An old-style client ignores the headers; S3 stores what it gets without them...
    response = requests.put(announcement.url, data=CONTENT)
    assert response.status_code == 403  # ...no: the URL is signed with the MD5 header
    storage.upload_stream(announcement.file.storage_key, io.BytesIO(CONTENT))
    with pytest.raises(Conflict):
        update_file(
            dbsession, owner, announcement.file.site_id, storage=storage, content_uploaded=True
        )


def test_a_frozen_file_is_no_longer_modifiable(dbsession, owner, storage, settings):
    announcement = announce(dbsession, owner, storage, settings)
    requests.put(announcement.url, data=CONTENT, headers=announcement.headers)
    update_file(dbsession, owner, announcement.file.site_id, storage=storage, content_uploaded=True)
    with pytest.raises(NotModifiable) as raised:
        update_file(dbsession, owner, announcement.file.site_id, storage=storage, name="other")
    [item] = raised.value.items
    assert item.exception == "ResourceNotModifiableError"
    assert item.entity == {"uuid": str(announcement.file.uuid), "site": announcement.file.site_id}


def test_names_and_checksums_are_checked(dbsession, owner, storage, settings):
    with pytest.raises(ValidationFailed) as raised:
        announce(dbsession, owner, storage, settings, name="", checksum="nope")
    assert {item.field for item in raised.value.items} == {"name", "checksum"}


def test_other_users_do_not_see_staged_files(dbsession, owner, storage, settings):
    announcement = announce(dbsession, owner, storage, settings)
    with pytest.raises(NotFound):
        get_file(dbsession, make_user(dbsession, group=owner.group), announcement.file.site_id)


def test_pending_files_lists_the_callers_staged_files(dbsession, owner, storage, settings):
    announcement = announce(dbsession, owner, storage, settings)
    pending = pending_files(dbsession, owner, owner.site_id)
    assert [file.id for file in pending] == [announcement.file.id]


def test_deleting_returns_the_keys_to_remove_after_commit(dbsession, owner, storage, settings):
    announcement = announce(dbsession, owner, storage, settings)
    assert delete_files(dbsession, owner, [announcement.file.site_id]) == [
        announcement.file.storage_key
    ]


def test_a_download_url_serves_the_exact_bytes(dbsession, owner, storage, settings):
    announcement = announce(dbsession, owner, storage, settings)
    requests.put(announcement.url, data=CONTENT, headers=announcement.headers)
    update_file(dbsession, owner, announcement.file.site_id, storage=storage, content_uploaded=True)
    url = download_url(
        dbsession,
        owner,
        announcement.file.site_id,
        expires_minutes=5,
        storage=storage,
        settings=settings,
    )
    response = requests.get(url.url)
    assert response.content == CONTENT
    assert "reads.fq" in response.headers["Content-Disposition"]


def test_download_urls_have_a_bounded_lifetime(dbsession, owner, storage, settings):
    announcement = announce(dbsession, owner, storage, settings)
    with pytest.raises(ValidationFailed):
        download_url(
            dbsession,
            owner,
            announcement.file.site_id,
            expires_minutes=settings.files_download_max_expiry_minutes + 1,
            storage=storage,
            settings=settings,
        )


def test_old_clients_upload_through_the_app_with_a_one_time_token(
    dbsession, owner, storage, settings
):
    announcement = announce(dbsession, owner, storage, settings, via_app=True)
    assert announcement.url == f"http://x/api/v1/upload/{announcement.file.uuid}"
    token = announcement.headers["Access-Token"]
    file_uuid = str(announcement.file.uuid)
    with pytest.raises(NotFound):
        expected_upload(dbsession, file_uuid, "wrong")
    expected = expected_upload(dbsession, file_uuid, token)
    store_upload(expected, io.BytesIO(CONTENT), storage=storage)
    with pytest.raises(NotFound):  # used up
        expected_upload(dbsession, file_uuid, token)
    file = update_file(
        dbsession, owner, announcement.file.site_id, storage=storage, content_uploaded=True
    )
    assert file.filesize == len(CONTENT)


def test_a_client_that_asks_for_a_direct_upload_gets_s3_even_where_the_app_takes_uploads(
    dbsession, owner, storage, settings
):
    announcement = announce(dbsession, owner, storage, settings, via_app=True, direct_upload=True)
    assert not announcement.url.startswith("http://x/")
    assert "Access-Token" not in announcement.headers
    assert announcement.file.upload_token_hash is None


def test_large_uploads_through_the_app_are_verified_by_the_md5_computed_on_the_way(
    dbsession, owner, storage, settings
):
    content = b"x" * (9 * 1024 * 1024)  # more than one part: the ETag is no MD5
    checksum = hashlib.md5(content).hexdigest()  # noqa: S324
    announcement = announce(dbsession, owner, storage, settings, via_app=True, checksum=checksum)
    expected = expected_upload(
        dbsession, str(announcement.file.uuid), announcement.headers["Access-Token"]
    )
    store_upload(expected, io.BytesIO(content), storage=storage)
    file = update_file(
        dbsession, owner, announcement.file.site_id, storage=storage, content_uploaded=True
    )
    assert file.filesize == len(content)


def test_an_announce_takes_one_statement(dbsession, dbengine, owner, storage, settings):
    dbsession.flush()
    with recorded_statements(dbengine) as statements:
        announce(dbsession, owner, storage, settings)
    assert [statement.split()[0] for statement in statements] == ["INSERT"]


def test_a_confirmation_takes_two_statements_and_one_head(
    dbsession, dbengine, owner, storage, settings, monkeypatch
):
    announcement = announce(dbsession, owner, storage, settings)
    assert requests.put(announcement.url, data=CONTENT, headers=announcement.headers).ok
    heads = []
    monkeypatch.setattr(
        storage, "head", lambda key, head=storage.head: heads.append(key) or head(key)
    )
    with recorded_statements(dbengine) as statements:
        update_file(
            dbsession, owner, announcement.file.site_id, storage=storage, content_uploaded=True
        )
    assert [statement.split()[0] for statement in statements] == ["EXECUTE", "UPDATE"]
    assert heads == [announcement.file.storage_key]


def test_the_announced_file_holds_what_was_stored(dbsession, owner, storage, settings):
    file = announce(dbsession, owner, storage, settings, name="Reads.FQ", checksum=MD5.upper()).file
    stored = dbsession.get(File, file.id, populate_existing=True)
    columns = [column.key for column in File.__table__.c]
    assert {key: getattr(file, key) for key in columns} == {
        key: getattr(stored, key) for key in columns
    }
    assert (file.name, file.checksum, file.user) == ("Reads.FQ", MD5, owner)
    assert isinstance(file.uuid, uuid.UUID)


def test_a_confirmed_file_holds_what_was_stored(dbsession, owner, storage, settings):
    announcement = announce(dbsession, owner, storage, settings)
    requests.put(announcement.url, data=CONTENT, headers=announcement.headers)
    file = update_file(
        dbsession, owner, str(announcement.file.uuid), storage=storage, content_uploaded=True
    )
    stored = dbsession.get(File, file.id, populate_existing=True)
    columns = [column.key for column in File.__table__.c]
    assert {key: getattr(file, key) for key in columns} == {
        key: getattr(stored, key) for key in columns
    }
    assert (file.content_uploaded, file.filesize, file.user) == (True, len(CONTENT), owner)


def test_a_file_the_session_holds_is_the_one_found(dbsession, owner, storage, settings):
    site_id = announce(dbsession, owner, storage, settings).file.site_id
    held = dbsession.scalars(select(File).where(File.site_id == site_id)).one()
    assert get_file(dbsession, owner, site_id) is held
    renamed = update_file(dbsession, owner, site_id, storage=storage, name="renamed.fq")
    assert renamed is held and held.name == "renamed.fq"


def test_a_pending_change_in_the_session_counts_for_the_lookup(dbsession, owner, storage, settings):
    # As an ORM query would, the lookup flushes first: a file a set of the session
    # names is no longer modifiable.
    site_id = announce(dbsession, owner, storage, settings).file.site_id
    held = dbsession.scalars(select(File).where(File.site_id == site_id)).one()
    held.name = "pending.fq"
    assert get_file(dbsession, owner, site_id).name == "pending.fq"


def test_a_submitted_file_is_read_by_its_group_with_its_owner_and_changed_by_none(
    dbsession, owner, storage, settings
):
    admin = make_user(dbsession, site_admin=True)
    save_definition(dbsession, admin, replace(SAMPLE_ID, site_unique=True))
    save_definition(
        dbsession,
        admin,
        replace(SAMPLE_ID, name="Reads", regexp="", is_file=True, mandatory=False),
    )
    announcement = announce(dbsession, owner, storage, settings, name="S1.fq")
    assert requests.put(announcement.url, data=CONTENT, headers=announcement.headers).ok
    site_id = announcement.file.site_id
    update_file(dbsession, owner, site_id, storage=storage, content_uploaded=True)
    staged = stage_records(dbsession, owner, [{"SampleId": "S1", "Reads": "S1.fq"}])
    create_submission(dbsession, owner, [staged[0].site_id], [site_id], "run")
    dbsession.flush()
    dbsession.expunge_all()
    colleague = make_user(dbsession, group=dbsession.merge(owner).group)

    found = get_file(dbsession, colleague, site_id)

    assert (found.site_id, found.user.id) == (site_id, owner.id)
    with pytest.raises(NotFound):
        get_file(dbsession, make_user(dbsession), site_id)
    with pytest.raises(NotModifiable):
        update_file(dbsession, dbsession.merge(owner), site_id, storage=storage, name="x.fq")
