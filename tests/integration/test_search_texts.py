"""Search texts are written by the worker after the submission: exactly the missing ones,
once each, by any number of writers at once."""

import logging
import threading

import pytest
import sqlalchemy as sa

from datameta import jobs
from datameta.logic import search_texts
from datameta.logic.metadata import save_definition
from datameta.logic.metadatasets import stage_records
from datameta.logic.submissions import create_submission
from datameta.models import MetaDataSet
from datameta.worker import SWEEP_SEARCH_TEXTS, job_queue, write_search_texts
from tests.factories import SAMPLE_ID, definition_input, make_user


def prepare(db):
    """The sample id and a free note column, and a submitter."""
    admin = make_user(db, site_admin=True)
    save_definition(db, admin, SAMPLE_ID)
    save_definition(db, admin, definition_input("Note", order=20))
    return make_user(db)


def submit(db, submitter, notes, prefix="S1"):
    """Sets with the given notes, staged and submitted; their ids."""
    records = [{"SampleId": f"{prefix}{i}", "Note": note} for i, note in enumerate(notes)]
    staged = stage_records(db, submitter, records)
    create_submission(db, submitter, [mset.site_id for mset in staged], [], None)
    return [mset.id for mset in staged]


def texts(db, ids):
    rows = db.execute(
        sa.select(MetaDataSet.id, MetaDataSet.search_text).where(MetaDataSet.id.in_(ids))
    )
    return dict(rows.all())


def computed(db, ids):
    """The texts the database's one definition gives the sets."""
    rows = db.execute(
        sa.text("SELECT set_id, search_text FROM search_texts(:ids)"), {"ids": list(ids)}
    )
    return dict(rows.all())


@pytest.fixture
def submitter(dbsession):
    return prepare(dbsession)


def test_a_submission_leaves_the_texts_of_its_sets_to_the_worker(dbsession, submitter):
    ids = submit(dbsession, submitter, ["first light", "second run"])
    assert texts(dbsession, ids) == dict.fromkeys(ids)
    assert search_texts.count_unwritten(dbsession) == 2


def test_a_batch_writes_exactly_the_missing_texts(dbsession, submitter):
    ids = submit(dbsession, submitter, ["first light", "second run", None])
    staged = stage_records(dbsession, submitter, [{"SampleId": "S900", "Note": "staged"}])[0]
    # A text written already (by an earlier batch, or a trigger) is not written again.
    dbsession.execute(
        sa.update(MetaDataSet).where(MetaDataSet.id == ids[0]).values(search_text="kept as is")
    )
    written = search_texts.write_batch(dbsession)
    assert written == ids[1:]
    assert texts(dbsession, ids) == {ids[0]: "kept as is", **computed(dbsession, ids[1:])}
    assert "second run" in texts(dbsession, [ids[1]])[ids[1]]
    # Staged sets have no text.
    assert texts(dbsession, [staged.id]) == {staged.id: None}
    assert search_texts.count_unwritten(dbsession) == 0


def test_writing_again_writes_nothing(dbsession, submitter):
    ids = submit(dbsession, submitter, ["a", "b"])
    assert search_texts.write_batch(dbsession) == ids
    assert search_texts.write_batch(dbsession) == []


def test_a_batch_takes_at_most_its_size_in_the_order_of_ids(dbsession, submitter):
    ids = submit(dbsession, submitter, ["a", "b", "c"])
    assert search_texts.write_batch(dbsession, batch_size=2) == ids[:2]
    assert search_texts.write_batch(dbsession, batch_size=2) == ids[2:]


# Committed data: each batch is a transaction of its own, and writers run at once.


@pytest.fixture
def committed_sets(committed_db):
    submitter = prepare(committed_db)
    ids = submit(committed_db, submitter, [f"note {i}" for i in range(5)], prefix="S5")
    committed_db.commit()
    return ids


def test_every_missing_text_is_written_in_batches_of_their_own(
    app, committed_db, committed_sets, caplog
):
    with caplog.at_level(logging.INFO, logger="datameta"):
        written = search_texts.write_unwritten(app.registry["dbsession_factory"], batch_size=2)
    assert written == 5
    assert texts(committed_db, committed_sets) == computed(committed_db, committed_sets)
    # Three transactions, each logged with what it wrote.
    assert caplog.text.count("search texts: wrote") == 3
    assert search_texts.write_unwritten(app.registry["dbsession_factory"]) == 0


def test_two_writers_at_once_take_different_sets_and_never_wait(app, committed_db, committed_sets):
    sessions = app.registry["dbsession_factory"]
    first, second = sessions(), sessions()
    try:
        for session in (first, second):
            session.connection(execution_options={"isolation_level": "READ COMMITTED"})
        # The first holds its batch uncommitted while the second writes.
        taken_first = search_texts.write_batch(first, batch_size=3)
        # A lock wait would stop here; a short timeout turns it into an error.
        second.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        taken_second = search_texts.write_batch(second, batch_size=3)
        assert taken_first == committed_sets[:3]
        assert set(taken_second).isdisjoint(taken_first)
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert None not in texts(committed_db, committed_sets).values()
    assert texts(committed_db, committed_sets) == computed(committed_db, committed_sets)


def test_writers_running_at_once_write_every_text_without_deadlock(
    app, committed_db, committed_sets
):
    sessions = app.registry["dbsession_factory"]
    counts: list[int] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            counts.append(search_texts.write_unwritten(sessions, batch_size=1))
        except BaseException as error:  # reported by the test
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    # Each set was written by one writer, unless another process's writer took it.
    assert sum(counts) <= 5
    assert search_texts.count_unwritten(committed_db) == 0
    assert texts(committed_db, committed_sets) == computed(committed_db, committed_sets)


def test_the_periodic_pass_writes_texts_whose_job_was_lost(app, committed_db, committed_sets):
    # No job was deferred for these sets (they were submitted without the API).
    assert search_texts.count_unwritten(committed_db) == 5
    committed_db.rollback()  # a snapshot of its own: it sees what the pass commits
    write_search_texts(app.registry["dbsession_factory"])
    assert search_texts.count_unwritten(committed_db) == 0


def test_the_worker_runs_the_writing_on_a_queue_of_its_own_and_every_five_minutes(settings):
    queue = job_queue(settings)
    assert queue.tasks[jobs.WRITE_SEARCH_TEXTS].queue == jobs.SEARCH_TEXTS_QUEUE
    assert jobs.SEARCH_TEXTS_QUEUE in jobs.QUEUES
    periodic = {task.task.name: task for task in queue.periodic_registry.periodic_tasks.values()}
    assert periodic[SWEEP_SEARCH_TEXTS].cron == "*/5 * * * *"
    assert periodic[SWEEP_SEARCH_TEXTS].task.queue == jobs.SEARCH_TEXTS_QUEUE


def test_finding_the_unwritten_reads_the_partial_index(dbsession, submitter):
    submit(dbsession, submitter, ["a"])
    dbsession.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        dbsession.scalars(
            sa.text(
                "EXPLAIN SELECT id FROM metadatasets "
                "WHERE search_text IS NULL AND submission_id IS NOT NULL ORDER BY id"
            )
        )
    )
    assert "ix_metadatasets_search_text_unwritten" in plan
