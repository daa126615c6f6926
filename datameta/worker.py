"""datameta-worker: runs the background jobs (procrastinate) that the app defers.

Jobs verify files uploaded in parts and write the search texts of submitted sets
(``logic.search_texts``); periodic jobs re-defer verifications whose jobs were lost,
write search texts whose jobs were lost, and keep house (``logic.housekeeping``):
expired uploads, objects of deleted files, expired links and API keys, the records
of old finished jobs.
Run as many workers as needed; each job runs once. The worker stops gracefully
on SIGTERM or SIGINT, finishing the job at hand.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import procrastinate
from sqlalchemy import make_url
from sqlalchemy.orm import Session, sessionmaker

from datameta import jobs
from datameta.config import Settings, script_settings
from datameta.db import make_engine, make_session_factory
from datameta.logic import housekeeping, search_texts, verification
from datameta.storage import Storage, storage_from_settings

log = logging.getLogger("datameta.worker")

SWEEP_VERIFICATIONS = "datameta.sweep_verifications"
SWEEP_SEARCH_TEXTS = "datameta.sweep_search_texts"
REMOVE_EXPIRED_UPLOADS = "datameta.remove_expired_uploads"
PURGE_DELETED_OBJECTS = "datameta.purge_deleted_objects"
PURGE_EXPIRED_CREDENTIALS = "datameta.purge_expired_credentials"
RETRY_STALLED_JOBS = "datameta.retry_stalled_jobs"
REMOVE_OLD_JOBS = "datameta.remove_old_jobs"
# A worker renews its heartbeat every 10 s; one silent for 30 s has died (SIGKILL, a lost
# machine) and its running jobs will never finish: they are stalled, and run again.
STALLED_AFTER_SECONDS = 30
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


def write_search_texts(sessions: sessionmaker[Session]) -> int:
    """Write the search texts of all submitted sets that have none (``logic.search_texts``)."""
    written = search_texts.write_unwritten(sessions)
    log.info("search texts: %d written", written)
    return written


def keep_house(
    sessions: sessionmaker[Session], storage: Storage, settings: Settings, now: datetime
) -> None:
    """Every housekeeping chore once, each in a transaction of its own (tests call this)."""
    remove_expired_uploads(sessions, now)
    purge_deleted_objects(sessions, storage)
    purge_expired_credentials(sessions, settings, now)


def remove_expired_uploads(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as db:
        removed = housekeeping.remove_expired_uploads(db, now)
    log.info("housekeeping: %d upload(s) past their window removed", len(removed))


def purge_deleted_objects(sessions: sessionmaker[Session], storage: Storage) -> None:
    with sessions.begin() as db:
        keys = housekeeping.purge_deleted_objects(db, storage)
    log.info("housekeeping: %d stored object(s) of deleted files deleted", len(keys))


def purge_expired_credentials(
    sessions: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with sessions.begin() as db:
        links, keys = housekeeping.purge_expired_credentials(
            db, now, settings.housekeeping_grace_days
        )
    log.info("housekeeping: purged %d expired link(s) and %d expired API key(s)", links, keys)


async def retry_stalled_jobs(queue: procrastinate.App) -> int:
    """Run again the jobs whose worker died while running them (procrastinate's recipe)."""
    stalled = list(
        await queue.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS)
    )
    for job in stalled:
        log.warning("job %s (%s) stalled with its worker; it runs again", job.id, job.task_name)
        await queue.job_manager.retry_job(job)
    return len(stalled)


FINISHED_STATES = "('succeeded', 'failed', 'cancelled', 'aborted')"


async def remove_old_jobs(queue: procrastinate.App, retention_days: int) -> int:
    """Remove the records of jobs finished more than ``retention_days`` ago, whatever their
    outcome (procrastinate's own delete); periodic jobs alone leave about 2,000 a day."""
    # The finished jobs before and after tell exactly how many went, even while
    # other jobs finish meanwhile (procrastinate's delete does not count).
    rows = await queue.connector.execute_query_all_async(
        f"SELECT id FROM procrastinate_jobs WHERE status IN {FINISHED_STATES}"  # noqa: S608
    )
    finished = [row["id"] for row in rows]
    await queue.job_manager.delete_old_jobs(
        nb_hours=retention_days * 24,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )
    kept = await queue.connector.execute_query_one_async(
        "SELECT count(*) AS kept FROM procrastinate_jobs WHERE id = ANY(%(ids)s)", ids=finished
    )
    removed = len(finished) - int(kept["kept"])
    log.info(
        "housekeeping: removed %d job(s) finished more than %d day(s) ago; %d finished kept",
        removed,
        retention_days,
        kept["kept"],
    )
    return removed


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
    @queue.task(name=SWEEP_VERIFICATIONS, queue=jobs.VERIFICATION_QUEUE)
    def sweep_task(timestamp: int) -> None:
        sweep_verifications(sessions, defer_verification)

    @queue.task(name=jobs.WRITE_SEARCH_TEXTS, queue=jobs.SEARCH_TEXTS_QUEUE, retry=RETRY)
    def write_search_texts_task() -> None:
        write_search_texts(sessions)

    # The texts of sets whose job was lost (deleted, failed for good): the same writing.
    @queue.periodic(cron="*/5 * * * *")
    @queue.task(
        name=SWEEP_SEARCH_TEXTS,
        queue=jobs.SEARCH_TEXTS_QUEUE,
        queueing_lock=SWEEP_SEARCH_TEXTS,
        retry=RETRY,
    )
    def sweep_search_texts_task(timestamp: int) -> None:
        write_search_texts(sessions)

    @queue.periodic(cron="*/15 * * * *")
    @queue.task(name=REMOVE_EXPIRED_UPLOADS, queue=jobs.HOUSEKEEPING_QUEUE, retry=RETRY)
    def remove_expired_uploads_task(timestamp: int) -> None:
        remove_expired_uploads(sessions, datetime.now(UTC))

    @queue.periodic(cron="*/5 * * * *")
    @queue.task(name=PURGE_DELETED_OBJECTS, queue=jobs.HOUSEKEEPING_QUEUE, retry=RETRY)
    def purge_deleted_objects_task(timestamp: int) -> None:
        purge_deleted_objects(sessions, storage)

    @queue.periodic(cron="23 3 * * *")
    @queue.task(name=PURGE_EXPIRED_CREDENTIALS, queue=jobs.HOUSEKEEPING_QUEUE, retry=RETRY)
    def purge_expired_credentials_task(timestamp: int) -> None:
        purge_expired_credentials(sessions, settings, datetime.now(UTC))

    @queue.periodic(cron="41 3 * * *")
    @queue.task(name=REMOVE_OLD_JOBS, queue=jobs.HOUSEKEEPING_QUEUE, retry=RETRY)
    async def remove_old_jobs_task(timestamp: int) -> None:
        await remove_old_jobs(queue, settings.housekeeping_job_retention_days)

    # Every minute; the queueing lock keeps one such job waiting at most, so that two
    # workers never retry the same stalled job.
    @queue.periodic(cron="* * * * *")
    @queue.task(
        name=RETRY_STALLED_JOBS, queue=jobs.HOUSEKEEPING_QUEUE, queueing_lock=RETRY_STALLED_JOBS
    )
    async def retry_stalled_jobs_task(timestamp: int) -> None:
        await retry_stalled_jobs(queue)

    return queue


async def _remove_old_jobs_once(settings: Settings) -> None:
    queue = job_queue(settings)
    async with queue.open_async():
        await remove_old_jobs(queue, settings.housekeeping_job_retention_days)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="datameta-worker",
        description="Run DataMeta's background jobs (file verification, search texts, "
        "housekeeping) from the job queue in PostgreSQL until stopped with SIGTERM or Ctrl-C.",
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
        "--housekeeping",
        action="store_true",
        help="do every housekeeping chore once now (expired uploads, objects of deleted "
        "files, expired links and API keys, records of old finished jobs), then exit",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run the jobs waiting now, then exit (periodic jobs are not run)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = script_settings(args.config)
    if args.housekeeping:
        sessions = make_session_factory(make_engine(settings), settings)
        keep_house(sessions, storage_from_settings(settings), settings, datetime.now(UTC))
        asyncio.run(_remove_old_jobs_once(settings))
        return 0
    queue = job_queue(settings)
    options: dict[str, Any] = {"concurrency": args.concurrency, "wait": not args.once}
    if args.once:
        options["install_signal_handlers"] = False
    with queue.open():
        queue.run_worker(**options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
