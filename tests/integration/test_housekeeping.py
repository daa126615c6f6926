"""Housekeeping: what the worker's periodic jobs remove, and what they leave alone."""

import asyncio
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from datameta.models import ApiKey, DeletedObject, File, PasswordToken
from datameta.models.accounts import TokenPurpose
from datameta.security.tokens import generate_token, hash_token
from datameta.worker import job_queue, keep_house, remove_old_jobs
from tests.factories import (
    PART,
    complete,
    confirm_upload,
    make_api_key,
    make_user,
    md5_hex,
    put_part,
    start,
    upload_in_parts,
)
from tests.helpers import api_headers

CONTENT = b"N" * PART + b"rest"
LATER = datetime.now(UTC) + timedelta(days=2)  # past every upload window of the tests


@pytest.fixture
def owner(committed_db):
    key = make_api_key(committed_db, make_user(committed_db), expires=LATER + timedelta(days=1))
    committed_db.commit()
    return key


def run_housekeeping(app, settings, now=LATER):
    keep_house(app.registry["dbsession_factory"], app.registry["storage"], settings, now)


def stored_file(db, file_id):
    return db.scalar(sa.select(File).where(File.uuid == file_id))


def test_an_upload_not_completed_within_its_window_is_aborted_and_removed(
    app, settings, live_app, committed_db, owner, caplog
):
    upload = start(live_app, owner, size=len(CONTENT)).json
    file_id = upload["fileId"]["uuid"]
    put_part(live_app, owner, file_id, 1, CONTENT[:PART])
    file = stored_file(committed_db, file_id)
    key, upload_id = file.storage_key, file.multipart_upload_id
    committed_db.rollback()
    storage = app.registry["storage"]
    assert storage.list_parts(key, upload_id) is not None

    with caplog.at_level(logging.INFO, logger="datameta"):
        run_housekeeping(app, settings)
    assert f"removed {upload['fileId']['site']}" in caplog.text
    live_app.get(f"/api/v1/files/{file_id}", headers=api_headers(owner), status=404)
    # S3 dropped the upload and its parts.
    assert storage.list_parts(key, upload_id) is None
    assert committed_db.scalar(sa.select(sa.func.count()).select_from(DeletedObject)) == 0


def test_an_announced_single_upload_never_confirmed_loses_its_object(
    app, settings, live_app, committed_db, owner
):
    announced = live_app.post_json(
        "/api/v1/files", {"name": "a.fq", "checksum": md5_hex(b"ACGT")}, headers=api_headers(owner)
    ).json
    file = stored_file(committed_db, announced["id"]["uuid"])
    key = file.storage_key
    committed_db.rollback()
    storage = app.registry["storage"]
    storage.upload_stream(key, io.BytesIO(b"ACGT"))
    run_housekeeping(app, settings)
    assert storage.head(key) is None
    assert stored_file(committed_db, announced["id"]["uuid"]) is None


def test_complete_and_verifying_files_and_open_windows_are_kept(
    app, settings, live_app, committed_db, owner
):
    verifying = upload_in_parts(live_app, owner, CONTENT)
    complete(live_app, owner, verifying, checksum=md5_hex(CONTENT))
    confirmed = live_app.post_json(
        "/api/v1/files", {"name": "b.fq", "checksum": md5_hex(b"ACGT")}, headers=api_headers(owner)
    ).json
    open_window = start(live_app, owner, size=len(CONTENT)).json["fileId"]["uuid"]
    file = stored_file(committed_db, confirmed["id"]["uuid"])
    app.registry["storage"].upload_stream(file.storage_key, io.BytesIO(b"ACGT"))
    committed_db.rollback()
    confirm_upload(live_app, owner, confirmed["id"]["uuid"])
    # Housekeeping now leaves an upload whose window is open.
    run_housekeeping(app, settings, now=datetime.now(UTC))
    assert stored_file(committed_db, open_window) is not None
    committed_db.rollback()
    # Once every window has closed, complete and verifying files stay all the same.
    run_housekeeping(app, settings)
    assert stored_file(committed_db, verifying) is not None
    assert stored_file(committed_db, confirmed["id"]["uuid"]) is not None
    assert stored_file(committed_db, open_window) is None


def test_objects_of_deleted_files_are_deleted_even_if_the_prompt_delete_failed(
    app, settings, committed_db
):
    storage = app.registry["storage"]
    storage.upload_stream("files/orphan-of-a-deleted-file", io.BytesIO(b"data"))
    committed_db.add(DeletedObject(storage_key="files/orphan-of-a-deleted-file"))
    committed_db.commit()
    run_housekeeping(app, settings, now=datetime.now(UTC))
    assert storage.head("files/orphan-of-a-deleted-file") is None
    assert committed_db.scalar(sa.select(sa.func.count()).select_from(DeletedObject)) == 0


def test_deleting_a_file_notes_its_object_for_the_worker(live_app, committed_db, owner):
    announced = live_app.post_json(
        "/api/v1/files", {"name": "c.fq", "checksum": md5_hex(b"x")}, headers=api_headers(owner)
    ).json
    key = stored_file(committed_db, announced["id"]["uuid"]).storage_key
    committed_db.rollback()
    live_app.delete(f"/api/v1/files/{announced['id']['uuid']}", headers=api_headers(owner))
    assert committed_db.get(DeletedObject, key) is not None


def test_expired_links_and_api_keys_are_purged_after_the_grace_period(
    app, settings, committed_db, caplog
):
    user = make_user(committed_db)
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=settings.housekeeping_grace_days + 1)
    recently = now - timedelta(days=1)
    for label, expires in (("old key", long_ago), ("recent key", recently)):
        make_api_key(committed_db, user, label=label, expires=expires)
    for expires in (long_ago, recently):
        committed_db.add(
            PasswordToken(
                user_id=user.id,
                purpose=TokenPurpose.PASSWORD_RESET,
                token_hash=hash_token(generate_token()),
                expires=expires,
            )
        )
    committed_db.commit()
    with caplog.at_level(logging.INFO, logger="datameta"):
        run_housekeeping(app, settings, now=now)
    assert "purged expired API key 'old key'" in caplog.text
    labels = committed_db.scalars(sa.select(ApiKey.label).where(ApiKey.user_id == user.id))
    assert list(labels) == ["recent key"]
    tokens = committed_db.scalars(
        sa.select(PasswordToken.expires).where(PasswordToken.user_id == user.id)
    ).all()
    assert [expires.date() for expires in tokens] == [recently.date()]


def test_records_of_jobs_finished_before_the_retention_are_removed_whatever_their_outcome(
    settings, caplog
):
    retention = settings.housekeeping_job_retention_days
    jobs = {  # name: (status, days since it last changed)
        "old success": ("succeeded", retention + 1),
        "old failure": ("failed", retention + 1),
        "recent success": ("succeeded", retention - 1),
        "waiting since long": ("todo", retention + 1),
    }
    queue = job_queue(settings)

    async def scenario() -> tuple[int, set[str]]:
        async with queue.open_async():
            ids = {}
            for name, (status, days) in jobs.items():
                row = await queue.connector.execute_query_one_async(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status,"
                    " scheduled_at) VALUES ('housekeeping', 'datameta.test_only', '{}',"
                    " %(status)s, now() + interval '1 day') RETURNING id",
                    status=status,
                )
                ids[name] = row["id"]
                # What procrastinate notes at each change of state, long ago.
                await queue.connector.execute_query_async(
                    "INSERT INTO procrastinate_events (job_id, type, at) VALUES"
                    " (%(id)s, 'deferred', now() - make_interval(days => %(days)s)),"
                    " (%(id)s, %(last)s, now() - make_interval(days => %(days)s))",
                    id=row["id"],
                    days=days,
                    last="scheduled" if status == "todo" else status,
                )
            removed = await remove_old_jobs(queue, retention)
            rows = await queue.connector.execute_query_all_async(
                "SELECT id FROM procrastinate_jobs WHERE id = ANY(%(ids)s)", ids=list(ids.values())
            )
            await queue.connector.execute_query_async(
                "DELETE FROM procrastinate_jobs WHERE id = ANY(%(ids)s)", ids=list(ids.values())
            )
        kept = {row["id"] for row in rows}
        return removed, {name for name, job_id in ids.items() if job_id in kept}

    with caplog.at_level(logging.INFO, logger="datameta"), ThreadPoolExecutor(1) as thread:
        # A loop of its own: Playwright's sync API keeps one running in this thread.
        removed, kept = thread.submit(asyncio.run, scenario()).result()
    assert kept == {"recent success", "waiting since long"}
    assert removed == 2
    assert f"removed 2 job(s) finished more than {retention} day(s) ago" in caplog.text
