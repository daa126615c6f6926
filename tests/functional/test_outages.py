"""Outages of memcached, S3, PostgreSQL and the worker: what keeps working, what answers
503, and that the app and the jobs recover by themselves once the service is back.

These tests start a private stack of their own (on TEST_PORT_BASE + 1000) and stop and
start its services, so that the stack the other tests share is never disturbed. Each
test starts whatever it stopped again before it ends.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
import webtest
from alembic import command
from sqlalchemy import select, text

from datameta import jobs, make_app
from datameta.models import File
from tests.conftest import ROOT, TEST_INI, alembic_config
from tests.factories import (
    DEFAULT_PASSWORD,
    PART,
    complete,
    define_sample_sheet,
    make_api_key,
    make_user,
    md5_hex,
    settled_verification,
    stage,
    upload_in_parts,
)
from tests.helpers import PrivateStack, api_headers, assert_api_error, committing_client, login


@pytest.fixture(scope="module")
def stack() -> Iterator[PrivateStack]:
    stack = PrivateStack(int(os.environ.get("TEST_PORT_BASE", "17400")) + 1000, "datameta-outage-")
    try:
        stack.up()
        command.upgrade(alembic_config(stack.environ["DATAMETA_SQLALCHEMY_URL"]), "head")
        yield stack
    finally:
        stack.down()


@pytest.fixture
def restarted(stack: PrivateStack) -> Iterator[PrivateStack]:
    """The stack, whose stopped services are started again after the test."""
    yield stack
    stack.up()


@pytest.fixture(scope="module")
def outage_app(stack: PrivateStack):
    # DataMeta 1.x clients post file content through the app on this site.
    ini = {**TEST_INI, "datameta.files.upload_via_app": "true"}
    return make_app(ini, environ=stack.environ)


def account(wsgi_app) -> tuple[str, str]:
    """A new user's email and API key, committed to disk.

    The test stack's PostgreSQL does not wait for each commit to reach the disk, so an
    immediate stop soon after could lose the account; a synchronous commit flushes it.
    """
    db = wsgi_app.registry["dbsession_factory"]()
    try:
        user = make_user(db)
        key = make_api_key(db, user)
        email = user.email
        db.execute(text("SET LOCAL synchronous_commit = on"))
        db.commit()
        return email, key
    finally:
        db.close()


def eventually(check: Callable[[], bool], attempts: int = 150) -> None:
    """Wait (bounded) until ``check`` holds: the app notices a returned service by itself."""
    for _ in range(attempts):
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("the app did not recover")


def unavailable(response: webtest.TestResponse, component: str) -> None:
    [item] = assert_api_error(response, 503, "ServiceUnavailable")
    assert item["field"] == component


def health_down(client: webtest.TestApp) -> set[str]:
    response = client.get("/api/v1/health", status="*")
    if response.status_int == 200:
        return set()
    return {item["field"] for item in assert_api_error(response, 503, "ServiceUnavailable")}


# memcached


def test_without_memcached_api_keys_work_and_pages_say_temporarily_unavailable(
    restarted, outage_app
):
    email, key = account(outage_app)
    browser = committing_client(outage_app)
    login(browser, email, DEFAULT_PASSWORD)
    browser.get("/home", status=200)

    restarted.stop("memcached")

    script = committing_client(outage_app)
    for _ in range(2):  # and again, while the app has set the server aside
        assert script.get("/api/v1/rpc/whoami", headers=api_headers(key)).json["email"] == email
        newcomer = committing_client(outage_app).get("/login", status=503)
        assert "Temporarily unavailable" in newcomer.text
        assert "memcached" in newcomer.text
        assert "Temporarily unavailable" in browser.get("/home", status=503).text
        unavailable(browser.get("/api/v1/rpc/whoami", status=503), "memcached")
    assert health_down(script) == {"memcached"}

    restarted.up()

    # The same app, not restarted: logging in works again once memcached answers.
    # (The sessions were in memcached's memory: everybody logs in anew.)
    returning = committing_client(outage_app)
    eventually(lambda: returning.get("/login", expect_errors=True).status_int == 200)
    login(returning, email, DEFAULT_PASSWORD)
    returning.get("/home", status=200)
    assert "memcached" not in health_down(script)


# S3


def announce(client: webtest.TestApp, key: str, content: bytes, **query: str) -> dict:
    checksum = hashlib.md5(content).hexdigest()  # noqa: S324 (DataMeta's announced checksum)
    suffix = "?directUpload=true" if query.get("direct") else ""
    return client.post_json(
        f"/api/v1/files{suffix}",
        {"name": "reads.fastq", "checksum": checksum},
        headers=api_headers(key),
    ).json


def put_through_app(client: webtest.TestApp, announced: dict, content: bytes, status: int):
    """File content as DataMeta 1.x clients send it, to the app (a raw PUT)."""
    return client.put(
        f"/api/v1/upload/{announced['id']['uuid']}",
        content,
        headers={**announced["requestHeaders"], "Content-Type": "application/octet-stream"},
        status=status,
    )


def stored_file(wsgi_app, file_id: str) -> File:
    db = wsgi_app.registry["dbsession_factory"]()
    try:
        return db.scalar(select(File).where(File.site_id == file_id))
    finally:
        db.close()


def test_without_s3_file_calls_answer_503_and_record_nothing(restarted, outage_app):
    _, key = account(outage_app)
    client = committing_client(outage_app)
    content = b"ACGT" * 100
    direct = announce(client, key, content, direct="true")
    response = requests.put(
        direct["urlToUpload"], data=content, headers=direct["requestHeaders"], timeout=30
    )
    assert response.status_code == 200
    through_app = announce(client, key, content)

    restarted.stop("weed")

    confirm = client.put_json(
        f"/api/v1/files/{direct['id']['site']}",
        {"contentUploaded": True},
        headers=api_headers(key),
        status=503,
    )
    unavailable(confirm, "storage")
    assert stored_file(outage_app, direct["id"]["site"]).content_uploaded is False

    posted = put_through_app(client, through_app, content, status=503)
    unavailable(posted, "storage")
    assert stored_file(outage_app, through_app["id"]["site"]).content_md5 is None
    assert health_down(client) == {"storage"}

    restarted.up()

    # The same app recovers; the upload token of the failed upload is still good.
    def storage_back() -> bool:
        # On a loaded machine SeaweedFS may die while it starts; start it again then.
        restarted.up()
        return "storage" not in health_down(client)

    eventually(storage_back)
    client.put_json(
        f"/api/v1/files/{direct['id']['site']}", {"contentUploaded": True}, headers=api_headers(key)
    )
    put_through_app(client, through_app, content, status=204)


# PostgreSQL


def test_after_a_postgresql_restart_the_next_request_succeeds(restarted, outage_app):
    email, key = account(outage_app)
    browser = committing_client(outage_app)
    login(browser, email, DEFAULT_PASSWORD)
    script = committing_client(outage_app)
    # Every pooled connection has been used: after the restart, each is stale.
    assert script.get("/api/v1/rpc/whoami", headers=api_headers(key)).json["email"] == email

    restarted.stop_postgres()
    unavailable(script.get("/api/v1/rpc/whoami", headers=api_headers(key), status=503), "database")
    assert "Temporarily unavailable" in browser.get("/home", status=503).text
    assert health_down(script) == {"database"}
    restarted.up()

    assert script.get("/api/v1/rpc/whoami", headers=api_headers(key)).json["email"] == email
    browser.get("/home", status=200)
    assert "database" not in health_down(script)


def test_a_postgresql_restart_between_requests_goes_unnoticed(restarted, outage_app):
    email, key = account(outage_app)
    script = committing_client(outage_app)
    assert script.get("/api/v1/rpc/whoami", headers=api_headers(key)).json["email"] == email

    restarted.stop_postgres("fast")
    restarted.up()

    assert script.get("/api/v1/rpc/whoami", headers=api_headers(key)).json["email"] == email


def test_a_request_in_flight_when_postgresql_restarts_fails_cleanly_and_writes_nothing(
    restarted, outage_app
):
    admin_db = outage_app.registry["dbsession_factory"]()
    try:
        admin_key = make_api_key(admin_db, make_user(admin_db, site_admin=True))
        admin_db.commit()
    finally:
        admin_db.close()
    _, key = account(outage_app)
    script = committing_client(outage_app)
    define_sample_sheet(script, admin_key)
    engine = outage_app.registry["dbengine"]
    answers: list[webtest.TestResponse] = []
    # The staging request's insert writes its set, then waits to write its records
    # (others may read the table, nobody may write it): it is in flight, half its
    # writes done, when PostgreSQL goes down.
    blocker = engine.connect()
    blocker.execute(text("LOCK TABLE metadatumrecords IN SHARE MODE"))
    in_flight = threading.Thread(
        target=lambda: answers.append(
            stage(committing_client(outage_app), key, {"SampleId": "S1"}, status="*")
        )
    )
    in_flight.start()
    try:
        eventually(lambda: bool(waiting_for_a_lock(engine)), attempts=600)
        [statement] = waiting_for_a_lock(engine)
        assert "INSERT INTO metadatumrecords" in statement
        # A restart as an operator makes one: PostgreSQL ends every session, the one in
        # flight included, and keeps what was committed (the test stack does not sync
        # each commit to disk, so an immediate stop could lose the account made above).
        restarted.stop_postgres("fast")
    finally:
        blocker.invalidate()
        in_flight.join(timeout=120)
    [answer] = answers
    unavailable(answer, "database")

    restarted.up()
    # All or nothing: the set written before the cut is gone with its transaction.
    eventually(lambda: "database" not in health_down(script))
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM metadatasets")) == 0
    # And the next request succeeds.
    staged = stage(script, key, {"SampleId": "S1"}).json
    assert staged["record"]["SampleId"] == "S1"


def waiting_for_a_lock(engine) -> list[str]:
    """The statements of the sessions that wait for a lock now."""
    with engine.connect() as connection:
        return list(
            connection.scalars(
                text("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
        )


# The worker


def start_worker(stack: PrivateStack) -> subprocess.Popen:
    """A ``datameta-worker`` on the private stack, logging into the stack's folder."""
    with open(os.path.join(stack.folder, "worker.log"), "ab") as log:
        return subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "datameta-worker")],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **stack.environ},
        )


def verifications_running(wsgi_app, file_uuid: str) -> list[int]:
    """The ids of the file's verification jobs that a worker has taken and not finished."""
    with wsgi_app.registry["dbengine"].connect() as connection:
        return list(
            connection.scalars(
                text(
                    "SELECT id FROM procrastinate_jobs WHERE task_name = :task"
                    " AND args->>'file_uuid' = :file AND status = 'doing'"
                ),
                {"task": jobs.VERIFY_FILE, "file": file_uuid},
            )
        )


def job_status(wsgi_app, job_id: int) -> str:
    with wsgi_app.registry["dbengine"].connect() as connection:
        return connection.scalar(
            text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
        )


def test_a_verification_cut_off_by_killing_its_worker_runs_again_and_finishes(
    restarted, outage_app
):
    _, key = account(outage_app)
    client = committing_client(outage_app)
    content = b"ACGT" * (PART // 4) + b"and a short last part"
    file_id = upload_in_parts(client, key, content)
    complete(client, key, file_id, checksum=md5_hex(content))
    # With S3 suspended the worker cannot finish reading the file: it is caught mid-job.
    restarted.freeze("weed")
    doomed = start_worker(restarted)
    try:
        eventually(lambda: bool(verifications_running(outage_app, file_id)), attempts=1200)
        [cut_off] = verifications_running(outage_app, file_id)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    finally:
        restarted.thaw("weed")
    # Nothing finishes the job of a dead worker by itself.
    assert job_status(outage_app, cut_off) == "doing"

    successor = start_worker(restarted)
    try:
        state = settled_verification(client, key, file_id, wait_seconds=300)
        assert state["state"] == "verified"
        assert state["sha256"] == hashlib.sha256(content).hexdigest()
        # Once the dead worker's heartbeat has been silent for long enough, its job is
        # found stalled (within a minute more) and runs again to its end.
        eventually(lambda: job_status(outage_app, cut_off) == "succeeded", attempts=1500)
    finally:
        successor.terminate()
        successor.wait(timeout=60)
