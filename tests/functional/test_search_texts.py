"""A submission answers before its sets' search texts exist; the worker writes them."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from datameta import jobs, worker
from tests.factories import committed_submitter, stage
from tests.helpers import api_headers

ROOT = Path(__file__).resolve().parents[2]


def worker_once(*options: str) -> subprocess.CompletedProcess:
    """``datameta-worker --once`` on the test database: the jobs waiting now, then exit."""
    command = [str(Path(sys.executable).parent / "datameta-worker"), "-c", "development.ini"]
    return subprocess.run(
        [*command, "--once", *options],
        cwd=ROOT,
        env=os.environ.copy(),  # the test database's URL, as the session set it
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def found(live_app, key, word) -> list[str]:
    listed = live_app.get("/api/v1/metadatasets", {"q": word}, headers=api_headers(key)).json
    return [mset["record"]["SampleId"] for mset in listed]


def test_the_worker_writes_the_texts_of_a_committed_submission_and_search_finds_it_throughout(
    live_app, committed_db
):
    key = committed_submitter(committed_db, live_app)
    ids = [
        stage(live_app, key, {"SampleId": f"S{i}", "Date": "2024-05-0" + str(i)}).json["id"]
        for i in (1, 2)
    ]
    submitted = live_app.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [i["site"] for i in ids], "fileIds": [], "label": "fresh"},
        headers=api_headers(key),
    ).json
    assert found(live_app, key, "2024-05-02") == ["S2"]

    ran = worker_once()
    assert ran.returncode == 0, ran.stdout + ran.stderr

    committed_db.rollback()
    texts = committed_db.execute(
        sa.text("SELECT site_id, search_text FROM metadatasets ORDER BY id")
    ).all()
    assert [site_id for site_id, _ in texts] == [m["site"] for m in submitted["metadatasetIds"]]
    assert all(text is not None and "2024-05-0" in text for _, text in texts)
    # The job this submission deferred ran (this worker or another of the test run).
    statuses = committed_db.scalars(
        sa.text(
            "SELECT status FROM procrastinate_jobs WHERE task_name = :task ORDER BY id DESC LIMIT 1"
        ),
        {"task": jobs.WRITE_SEARCH_TEXTS},
    ).all()
    assert statuses == ["succeeded"]
    assert found(live_app, key, "2024-05-02") == ["S2"]


def submit_one(live_app, committed_db) -> None:
    key = committed_submitter(committed_db, live_app)
    staged = stage(live_app, key, {"SampleId": "S7", "Date": "2024-05-07"}).json["id"]
    live_app.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [staged["site"]], "fileIds": [], "label": None},
        headers=api_headers(key),
    )


def test_a_worker_of_the_search_texts_queue_alone_writes_the_texts(live_app, committed_db):
    # (A worker of the whole test run, when one runs, may write them first.)
    submit_one(live_app, committed_db)
    ran = worker_once("--queue", jobs.SEARCH_TEXTS_QUEUE)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    committed_db.rollback()
    [written] = committed_db.scalars(sa.text("SELECT search_text FROM metadatasets")).all()
    assert "2024-05-07" in written


def test_a_worker_runs_the_queues_it_is_given_or_all(monkeypatch):
    ran = []

    class Queue:
        def open(self):
            return contextlib.nullcontext()

        def run_worker(self, **options):
            ran.append(options["queues"])

    monkeypatch.setattr(worker, "job_queue", lambda settings: Queue())
    worker.main(["-c", "development.ini", "--once", "--queue", jobs.VERIFICATION_QUEUE])
    worker.main(["-c", "development.ini", "--once"])
    assert ran == [[jobs.VERIFICATION_QUEUE], None]


def test_the_worker_refuses_a_queue_it_does_not_know():
    ran = worker_once("--queue", "nonesuch")
    assert ran.returncode == 2
    assert "invalid choice: 'nonesuch'" in ran.stderr
