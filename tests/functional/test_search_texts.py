"""A submission answers before its sets' search texts exist; the worker writes them."""

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from datameta import jobs
from tests.factories import committed_submitter, stage
from tests.helpers import api_headers

ROOT = Path(__file__).resolve().parents[2]


def worker_once() -> subprocess.CompletedProcess:
    """``datameta-worker --once`` on the test database: the jobs waiting now, then exit."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "datameta-worker"), "-c", "development.ini", "--once"],
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
