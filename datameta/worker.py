"""datameta-worker: runs the background jobs (procrastinate) that the app defers.

Jobs verify files uploaded in parts, and a periodic sweep re-defers verifications
whose jobs were lost. Run as many workers as needed; each job runs once. The
worker stops gracefully on SIGTERM or SIGINT, finishing the job at hand.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from collections.abc import Callable
from typing import Any

import procrastinate
from pyramid.paster import get_appsettings, setup_logging
from sqlalchemy import make_url
from sqlalchemy.orm import Session, sessionmaker

from datameta import jobs
from datameta.config import ConfigurationError, Settings, parse_settings
from datameta.db import make_engine, make_session_factory
from datameta.logic import verification
from datameta.storage import Storage, storage_from_settings

log = logging.getLogger("datameta.worker")

SWEEP_VERIFICATIONS = "datameta.sweep_verifications"
# Storage or database hiccups (and lost serialization races) are retried with backoff.
RETRY = procrastinate.RetryStrategy(max_attempts=8, exponential_wait=5)


def libpq_url(sqlalchemy_url: str) -> str:
    """The database URL as libpq (psycopg 3) takes it: without SQLAlchemy's driver name."""
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def verify_file(sessions: sessionmaker[Session], storage: Storage, file_uuid: uuid.UUID) -> None:
    """Read the file's object once and record what it holds; short transactions only."""
    with sessions.begin() as db:
        pending = verification.file_to_verify(db, file_uuid)
    if pending is None:
        log.info("file %s needs no verification (deleted or settled)", file_uuid)
        return
    digests = verification.digest_object(storage, pending.storage_key)
    with sessions.begin() as db:
        verification.record_verification(db, pending, digests)


def sweep_verifications(sessions: sessionmaker[Session], defer: Callable[[uuid.UUID], None]) -> int:
    """Defer a verification for every file left verifying (a job already queued is kept)."""
    with sessions.begin() as db:
        waiting = verification.files_left_verifying(db)
    for file_uuid in waiting:
        defer(file_uuid)
    if waiting:
        log.info("sweep: %d file(s) waiting for verification", len(waiting))
    return len(waiting)


def job_queue(settings: Settings) -> procrastinate.App:
    """The worker's queue, with every task bound to the site's database and storage."""
    sessions = make_session_factory(make_engine(settings), settings)
    storage = storage_from_settings(settings)
    queue = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(settings.sqlalchemy_url))
    )

    def defer_verification(file_uuid: uuid.UUID) -> None:
        jobs.defer(queue, jobs.VERIFY_FILE, lock=str(file_uuid), file_uuid=str(file_uuid))

    @queue.task(name=jobs.VERIFY_FILE, queue=jobs.VERIFICATION_QUEUE, retry=RETRY)
    def verify_file_task(file_uuid: str) -> None:
        verify_file(sessions, storage, uuid.UUID(file_uuid))

    @queue.periodic(cron="*/5 * * * *")
    @queue.task(name=SWEEP_VERIFICATIONS, queue=jobs.VERIFICATION_QUEUE, pass_context=False)
    def sweep_task(timestamp: int) -> None:
        sweep_verifications(sessions, defer_verification)

    return queue


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="datameta-worker",
        description="Run DataMeta's background jobs (file verification, housekeeping) "
        "from the job queue in PostgreSQL until stopped with SIGTERM or Ctrl-C.",
    )
    parser.add_argument(
        "-c", "--config", default="development.ini", help="settings file (default: %(default)s)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="jobs run at once by this worker (default: %(default)s); run more workers "
        "to use more cores",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run the jobs waiting now, then exit (periodic jobs are not run)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.config)
    try:
        settings = parse_settings(get_appsettings(args.config))
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 2
    queue = job_queue(settings)
    options: dict[str, Any] = {"concurrency": args.concurrency, "wait": not args.once}
    if args.once:
        options["install_signal_handlers"] = False
    with queue.open():
        queue.run_worker(**options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
