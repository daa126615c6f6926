"""The server warms the app up before it forks its workers, and shares no connection with them.

The server (granian) builds the app once and forks the workers from that process: what the warm-up
did (the lookups' SQL compiled, the definitions read) the workers have from the start,
while the database connections it needed are closed, so that each worker opens its own.
"""

from __future__ import annotations

import gc
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from pyramid.router import Router
from sqlalchemy.engine.interfaces import CacheStats

import datameta
from datameta import make_app, warm_up
from datameta.logic.files import prepare_file_lookup
from datameta.security.policy import prepare_key_lookup
from tests.conftest import TEST_INI
from tests.factories import make_api_key, make_user
from tests.helpers import api_headers, committing_client


@pytest.fixture
def fresh_app(test_database_url: str) -> Iterator[Router]:
    """An app with an engine of its own, as ``pserve`` builds it in the server's first process."""
    app = make_app(TEST_INI)
    yield app
    app.registry["dbengine"].dispose()


def engine_of(app: Router) -> sa.Engine:
    return app.registry["dbengine"]


def compiled_fresh(engine: sa.Engine) -> list[str]:
    """A list that collects the statements ``engine`` compiles rather than finds cached."""
    fresh: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any):
        # Plain SQL (a statement prepared on a new connection) is never compiled.
        compiled = context is not None and context.compiled is not None
        if compiled and context.cache_hit is not CacheStats.CACHE_HIT:
            fresh.append(statement)

    sa.event.listen(engine, "after_cursor_execute", note)
    return fresh


def test_warm_up_leaves_no_connection_open(fresh_app: Router) -> None:
    warm_up(fresh_app.registry)
    pool = engine_of(fresh_app).pool
    assert pool.checkedin() == 0
    assert pool.checkedout() == 0


def test_after_warm_up_the_lookups_of_a_request_are_compiled_already(fresh_app: Router) -> None:
    warm_up(fresh_app.registry)
    fresh = compiled_fresh(engine_of(fresh_app))
    with fresh_app.registry["dbsession_factory"]() as db:
        prepare_key_lookup(db)
        prepare_file_lookup(db)
    assert fresh == []


def test_a_forked_worker_opens_its_own_connections_and_serves(
    fresh_app: Router, committed_db: Any
) -> None:
    key = make_api_key(committed_db, make_user(committed_db))
    committed_db.commit()
    warm_up(fresh_app.registry)
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the worker: report, and leave without running anything of pytest's
        os.close(reading)
        status = 1
        try:
            pool = engine_of(fresh_app).pool
            inherited = pool.checkedin() + pool.checkedout()
            answer = committing_client(fresh_app).get(
                "/api/v1/rpc/whoami", headers=api_headers(key), expect_errors=True
            )
            with engine_of(fresh_app).connect() as connection:
                backend = connection.scalar(sa.text("SELECT pg_backend_pid()"))
            report = {"inherited": inherited, "status": answer.status_int, "backend": backend}
            os.write(writing, json.dumps(report).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        report = json.loads(pipe.read() or "{}")
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report["inherited"] == 0
    assert report["status"] == 200
    # The first process goes on with connections of its own.
    with engine_of(fresh_app).connect() as connection:
        assert connection.scalar(sa.text("SELECT pg_backend_pid()")) != report["backend"]
    answer = committing_client(fresh_app).get("/api/v1/rpc/whoami", headers=api_headers(key))
    assert answer.status_int == 200


def test_without_a_database_the_warm_up_is_skipped_and_the_app_starts(
    test_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = sa.make_url(test_database_url).set(host="127.0.0.1", port=1)
    environ = {**os.environ, "DATAMETA_SQLALCHEMY_URL": unreachable.render_as_string(False)}
    app = make_app(TEST_INI, environ=environ)
    with caplog.at_level(logging.WARNING, logger="datameta"):
        warm_up(app.registry)
    assert "warm-up skipped" in caplog.text
    assert engine_of(app).pool.checkedin() == 0


def test_the_server_entry_point_warms_the_app_up(
    test_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    warmed = []
    monkeypatch.setattr(datameta, "warm_up", warmed.append)
    try:
        app = datameta.main({}, **TEST_INI)
    finally:
        gc.unfreeze()  # main freezes what it built, for the server's lifetime
    assert warmed == [app.registry]
    engine_of(app).dispose()
