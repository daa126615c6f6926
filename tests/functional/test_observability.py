"""Every request leaves one JSON log line and a request id; security events are logged; the
Prometheus metrics are counted per route and shown only to whoever holds the metrics token."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import webtest
from prometheus_client.parser import text_string_to_metric_families

from datameta import jobs, make_app
from datameta.telemetry.logs import JsonFormatter
from tests.conftest import ROOT, TEST_INI
from tests.factories import (
    DEFAULT_PASSWORD,
    add_request,
    define_sample_sheet,
    make_api_key,
    make_group,
    make_user,
    set_app_setting,
    stage,
    upload_file,
)
from tests.helpers import api_headers, client_in_transaction, committing_client, login

METRICS_TOKEN = "metrics-token-for-tests-0123456789"


class JsonLines:
    """What the app logs under ``datameta``, formatted as production formats it."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def access(self) -> list[dict]:
        return [line for line in self.all() if line["name"] == "datameta.access"]

    def events(self, event: str) -> list[dict]:
        return [line for line in self.all() if line.get("event") == event]


@pytest.fixture
def json_log() -> Iterator[JsonLines]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("datameta")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield JsonLines(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


# The access line


def test_each_request_logs_one_json_line_naming_route_status_duration_user_and_request_id(
    testapp, dbsession, json_log
):
    user = make_user(dbsession)
    response = testapp.get("/api/v1/rpc/whoami", headers=api_headers(make_api_key(dbsession, user)))
    request_id = response.headers["X-Request-ID"]
    [line] = json_log.access()
    assert line["method"] == "GET"
    assert line["route"] == "api_whoami"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["user"] == user.site_id
    assert line["request_id"] == request_id
    assert line["levelname"] == "INFO"


def test_the_access_line_of_an_error_names_its_status_and_no_user(testapp, json_log):
    testapp.get("/api/v1/rpc/whoami", status=401)
    testapp.get("/no/such/page", status=404)
    lines = json_log.access()
    assert [(line["route"], line["status"], line["user"]) for line in lines] == [
        ("api_whoami", 401, None),
        ("unmatched", 404, None),
    ]


def test_the_access_line_names_the_route_never_the_path_with_its_token(testapp, json_log):
    testapp.get("/setpass/secret-token-from-a-mail", status="*")
    [line] = json_log.access()
    assert line["route"] == "setpass"
    assert "secret-token-from-a-mail" not in json.dumps(json_log.all())


def test_a_sane_incoming_request_id_is_kept_and_echoed(testapp, json_log):
    response = testapp.get("/api/v1/server", headers={"X-Request-ID": "proxy-4711.abc"})
    assert response.headers["X-Request-ID"] == "proxy-4711.abc"
    assert json_log.access()[0]["request_id"] == "proxy-4711.abc"


@pytest.mark.parametrize(
    "incoming", ["", "x" * 129, "two words", 'quote"inside', "line\\nbreak", "ümlaut"]
)
def test_an_unfit_incoming_request_id_is_replaced(testapp, incoming):
    response = testapp.get("/api/v1/server", headers={"X-Request-ID": incoming})
    echoed = response.headers["X-Request-ID"]
    assert echoed != incoming
    assert len(echoed) == 32 and echoed.isalnum()


def test_each_request_gets_an_id_of_its_own(testapp):
    ids = {testapp.get("/api/v1/server").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


# Security events


def test_a_page_login_and_a_failed_one_are_logged_with_the_request_id(testapp, dbsession, json_log):
    user = make_user(dbsession)
    login(testapp, user.email, "Wrong-Password-1", status=400)
    login(testapp, user.email, DEFAULT_PASSWORD)
    [failed] = json_log.events("login_failed")
    assert failed["subject"] == user.site_id
    assert failed["reason"] == "wrong password"
    assert failed["levelname"] == "WARNING"
    [succeeded] = json_log.events("login")
    assert succeeded["subject"] == user.site_id
    login_posts = [line for line in json_log.access() if line["method"] == "POST"]
    assert [line["request_id"] for line in login_posts] == [
        failed["request_id"],
        succeeded["request_id"],
    ]


def test_a_login_with_an_unknown_email_is_logged_without_a_subject(testapp, json_log):
    login(testapp, "nobody@example.org", "Wrong-Password-1", status=400)
    [failed] = json_log.events("login_failed")
    assert failed["email"] == "nobody@example.org"
    assert failed["subject"] is None
    assert failed["reason"] == "unknown email"


def test_a_lockout_is_logged(testapp, dbsession, json_log):
    set_app_setting(dbsession, "security_max_failed_login_attempts", 2)
    user = make_user(dbsession)
    for _ in range(2):
        login(testapp, user.email, "Wrong-Password-1", status=400)
    [lockout] = json_log.events("lockout")
    assert lockout["subject"] == user.site_id
    assert lockout["levelname"] == "WARNING"


def test_creating_and_deleting_api_keys_is_logged(testapp, dbsession, json_log):
    user = make_user(dbsession)
    created = testapp.post_json(
        "/api/v1/keys", {"email": user.email, "password": DEFAULT_PASSWORD, "label": "script"}
    ).json
    testapp.delete(f"/api/v1/keys/{created['id']['uuid']}", headers=api_headers(created["token"]))
    [login_event] = json_log.events("login")
    assert login_event["subject"] == user.site_id
    [made] = json_log.events("apikey_created")
    [deleted] = json_log.events("apikey_deleted")
    assert made["key"] == deleted["key"] == created["id"]["uuid"]
    assert made["subject"] == deleted["subject"] == user.site_id
    # The deletion was made with the key itself: its line names the acting user.
    assert deleted["user"] == user.site_id
    assert created["token"] not in json.dumps(json_log.all())


def test_answering_registrations_is_logged(testapp, dbsession, admin_key, json_log):
    group = make_group(dbsession)
    accepted = add_request(dbsession, group=group, email="welcome@example.org")
    rejected = add_request(dbsession, group=group, email="declined@example.org")
    testapp.post_json(
        f"/api/v1/registrations/{accepted.uuid}/accept",
        {"name": "Ada Lovelace", "groupAdmin": False},
        headers=api_headers(admin_key),
    )
    testapp.post(f"/api/v1/registrations/{rejected.uuid}/reject", headers=api_headers(admin_key))
    [accept_event] = json_log.events("registration_accepted")
    assert accept_event["email"] == "welcome@example.org"
    assert accept_event["group"] == group.site_id
    [reject_event] = json_log.events("registration_rejected")
    assert reject_event["email"] == "declined@example.org"


# Metrics


@pytest.fixture(scope="module")
def metrics_app(app):
    """The app with a metrics token configured (the test app has none)."""
    return make_app(
        {**TEST_INI, "datameta.metrics.token": METRICS_TOKEN}, dbengine=app.registry["dbengine"]
    )


def scrape(client: webtest.TestApp) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.content_type == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_counted(samples: dict, route: str, method: str, status: str) -> float:
    labels = tuple(sorted({"route": route, "method": method, "status": status}.items()))
    return samples.get(("datameta_http_requests_total", labels), 0.0)


def test_metrics_are_not_served_without_a_configured_token(testapp):
    testapp.get("/metrics", status=404)
    testapp.get("/metrics", headers={"Authorization": "Bearer "}, status=404)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", METRICS_TOKEN])
def test_metrics_need_the_token(metrics_app, tm, dbsession, authorization):
    client = client_in_transaction(metrics_app, tm, dbsession)
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers, status=401)
    assert "datameta_" not in response.text


def test_metrics_count_requests_and_their_latency_by_route(metrics_app, tm, dbsession):
    client = client_in_transaction(metrics_app, tm, dbsession)
    before = scrape(client)
    for _ in range(3):
        client.get("/api/v1/server")
    client.get("/api/v1/rpc/whoami", status=401)
    after = scrape(client)
    assert (
        requests_counted(after, "api_server", "GET", "200")
        - requests_counted(before, "api_server", "GET", "200")
        == 3
    )
    assert (
        requests_counted(after, "api_whoami", "GET", "401")
        - requests_counted(before, "api_whoami", "GET", "401")
        == 1
    )
    latency = (("method", "GET"), ("route", "api_server"))
    count = "datameta_http_request_duration_seconds_count"
    assert after[(count, latency)] - before.get((count, latency), 0) == 3


def test_metrics_count_committed_submissions_and_uploaded_bytes(app, metrics_app, committed_db):
    admin = make_user(committed_db, site_admin=True)
    key = make_api_key(committed_db, admin)
    committed_db.commit()
    client = committing_client(metrics_app)
    define_sample_sheet(client, key)
    before = scrape(client)
    files = [upload_file(client, key, f"s{n}.fastq", b"A" * (100 + n)) for n in range(2)]
    sets = [
        stage(client, key, {"SampleId": f"S{n}", "Date": "", "Reads": f"s{n}.fastq"}).json
        for n in range(2)
    ]
    client.post_json(
        "/api/v1/submissions",
        {
            "metadatasetIds": [s["id"]["uuid"] for s in sets],
            "fileIds": [f["id"]["uuid"] for f in files],
            "label": "metrics",
        },
        headers=api_headers(key),
    )
    # Refused (the records are submitted already): nothing is counted.
    client.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [sets[0]["id"]["uuid"]], "fileIds": [], "label": None},
        headers=api_headers(key),
        status="4*",
    )
    after = scrape(client)

    def grew(name: str) -> float:
        return after[(name, ())] - before.get((name, ()), 0.0)

    assert grew("datameta_submissions_total") == 1
    assert grew("datameta_submitted_records_total") == 2
    assert grew("datameta_uploaded_bytes_total") == 100 + 101


def test_metrics_report_the_jobs_waiting_by_queue(app, metrics_app, tm, dbsession):
    client = client_in_transaction(metrics_app, tm, dbsession)
    samples = scrape(client)
    for queue in jobs.QUEUES:  # every queue, even when none waits
        assert ("datameta_jobs_waiting", (("queue", queue),)) in samples
    # A queue of this test's own, due in an hour: no worker takes its jobs meanwhile.
    queue = f"test-{uuid.uuid4().hex[:8]}"
    waiting = ("datameta_jobs_waiting", (("queue", queue),))
    queue_app = app.registry["job_queue"]
    deferred = [
        queue_app.configure_task(jobs.VERIFY_FILE, queue=queue, schedule_in={"hours": 1}).defer(
            file_uuid=str(uuid.uuid4())
        )
        for _ in range(2)
    ]
    try:
        assert scrape(client)[waiting] == 2
    finally:
        for job_id in deferred:
            queue_app.job_manager.cancel_job_by_id(job_id, delete_job=True)
    assert waiting not in scrape(client)


MULTIPROCESS_WORKER = """
import sys, webtest
from datameta import jobs, make_app
from tests.conftest import TEST_INI
client = webtest.TestApp(make_app({**TEST_INI, "datameta.metrics.token": sys.argv[2]}))
for _ in range(int(sys.argv[1])):
    client.get("/api/v1/server")
if len(sys.argv) > 3:
    print(client.get("/metrics", headers={"Authorization": "Bearer " + sys.argv[2]}).text)
"""


def test_metrics_add_up_the_counts_of_several_worker_processes(tmp_path, test_database_url):
    """As under the server: each process counts, and whichever answers /metrics reports the sum."""
    environ = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker(requests: int, *scrape_flag: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_WORKER, str(requests), METRICS_TOKEN, *scrape_flag],
            env=environ,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    worker(2)
    worker(3)
    exposition = worker(1, "scrape")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    assert requests_counted(samples, "api_server", "GET", "200") == 6


def test_the_server_lets_the_live_gauges_of_its_ended_workers_go(tmp_path):
    """prometheus_client's live gauges of a worker that ended would otherwise count on."""
    from tests.functional.test_serving import production_server, worker_processes

    settings = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with production_server(workers=2, **settings) as (_, server):
        workers = worker_processes(server.pid)
        for pid in workers:
            (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
        other = tmp_path / "gauge_livesum_1.db"
        other.write_bytes(b"")
        server.terminate()
        assert server.wait(60) == 0
    assert sorted(path.name for path in tmp_path.glob("gauge_live*")) == [other.name]


def test_a_worker_that_died_is_replaced_and_its_live_gauges_go(tmp_path):
    from tests.functional.test_serving import production_server, worker_processes

    settings = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with production_server(workers=2, **settings) as (url, server):
        dead, alive = worker_processes(server.pid)
        (tmp_path / f"gauge_livesum_{dead}.db").write_bytes(b"")
        os.kill(dead, signal.SIGKILL)
        end = time.monotonic() + 60
        while time.monotonic() < end and dead in worker_processes(server.pid):
            time.sleep(0.2)
        while time.monotonic() < end and len(worker_processes(server.pid)) < 2:
            time.sleep(0.2)
        assert alive in worker_processes(server.pid)
        assert len(worker_processes(server.pid)) == 2
        assert not (tmp_path / f"gauge_livesum_{dead}.db").exists()
        assert requests.get(f"{url}/api/v1/server", timeout=30).status_code == 200
