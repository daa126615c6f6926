"""Background jobs in PostgreSQL (procrastinate): no broker beside the database.

The app only defers jobs, by task name, in the transaction of the request that
makes the work (the job is committed with its data, or not at all); the
worker (``datameta.worker``, the ``datameta-worker`` console script) defines and
runs the tasks. Any number of workers may run: each job is taken by one.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import procrastinate
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from procrastinate.exceptions import AlreadyEnqueued
from pyramid.config import Configurator
from pyramid.request import Request
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

# Task names: the one list both the app (which defers) and the worker (which runs) use.
VERIFY_FILE = "datameta.verify_file"
VERIFICATION_QUEUE = "verification"
HOUSEKEEPING_QUEUE = "housekeeping"
# Search texts of submitted sets, written after the submission (``logic.search_texts``):
# a queue of their own, so that writing 10,000 of them never delays a file's verification.
WRITE_SEARCH_TEXTS = "datameta.write_search_texts"
SEARCH_TEXTS_QUEUE = "search_texts"
QUEUES = (VERIFICATION_QUEUE, HOUSEKEEPING_QUEUE, SEARCH_TEXTS_QUEUE)


def deferring_app(engine: Engine) -> procrastinate.App:
    """A job queue app that only defers, over the app's own database engine."""
    connector = SQLAlchemyPsycopg2Connector()
    connector.open(engine)
    return procrastinate.App(connector=connector)


def defer(
    queue_app: procrastinate.App,
    task: str,
    *,
    lock: str | None,
    queue: str = VERIFICATION_QUEUE,
    **kwargs: Any,
) -> None:
    """Defer one job; a job already waiting under the same ``lock`` is enough."""
    try:
        queue_app.configure_task(task, queue=queue, queueing_lock=lock).defer(**kwargs)
    except AlreadyEnqueued:
        log.info("job %s for %s is queued already", task, lock)


def defer_with_request(
    request: Request,
    task: str,
    *,
    lock: str | None,
    queue: str = VERIFICATION_QUEUE,
    **kwargs: Any,
) -> None:
    """Defer a job in the request's own transaction: it exists exactly when the data
    it works on is committed (none for a rolled-back request, none lost after a
    commit), and no worker sees it before that data (PostgreSQL's NOTIFY waits for
    the commit too).

    One statement on the request's connection (in a savepoint, so that a job already
    waiting under the same ``lock`` leaves the request's transaction intact), instead
    of a connection and a transaction of its own after the commit.
    """
    queue_app: procrastinate.App = request.registry["job_queue"]
    db = request.dbsession
    try:
        with db.begin_nested():
            queue_app.configure_task(
                task, queue=queue, queueing_lock=lock, connection=db.connection()
            ).defer(**kwargs)
    except AlreadyEnqueued:
        log.info("job %s for %s is queued already", task, lock)


def jobs_waiting(engine: Engine) -> dict[str, int]:
    """Jobs waiting to run (due or scheduled for a retry later), by queue; every queue is named.

    Cheap enough for every scrape: procrastinate keeps a partial index of waiting jobs,
    so the count reads those rows only, however many finished jobs the table holds.
    """
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT queue_name, count(*) FROM procrastinate_jobs"
                " WHERE status = 'todo' GROUP BY queue_name"
            )
        ).all()
    return {**dict.fromkeys(QUEUES, 0), **{queue: count for queue, count in rows}}


def includeme(config: Configurator) -> None:
    engine = config.registry["dbengine"]
    # Tests may have registered a queue of their own.
    if config.registry.get("job_queue") is None:
        config.registry["job_queue"] = deferring_app(engine)
    # What /metrics reports as the queue depth, read when Prometheus scrapes.
    config.registry["jobs_waiting"] = functools.partial(jobs_waiting, engine)
