"""Search texts of submitted sets, written by the worker shortly after the submission.

A submission only marks its sets submitted: writing each set's text in the same
UPDATE (its values aggregated, two trigram GIN indexes updated) was most of the
time a submission of 10,000 sets took. The submission defers a job instead, and
the job writes the texts of every submitted set that has none (the database's
``refresh_search_text``, the one definition of the text), in batches that are
each a short transaction of their own. Until then the listing computes the
missing texts itself (``listing.word_condition``), so a search finds a set the
moment its submission has committed.

Any number of workers may write at once: each batch locks its sets with SKIP
LOCKED, so two never wait for each other nor write a set twice, and a set whose
text is written already is never taken again. A periodic pass runs the same
writing, for sets whose job was lost.
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, Integer, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from datameta.models import MetaDataSet

log = logging.getLogger(__name__)

BATCH_SIZE = 1000


def unwritten() -> ColumnElement[bool]:
    """The condition of a submitted set whose search text is still to be written (the
    very condition of the partial index of migration 0018, which finds such sets)."""
    return MetaDataSet.search_text.is_(None) & MetaDataSet.submission_id.is_not(None)


def write_batch(db: Session, batch_size: int = BATCH_SIZE) -> list[int]:
    """Write the texts of at most ``batch_size`` submitted sets that have none; their ids.

    The sets are locked first, in the order of their ids, skipping those another
    writer holds. In READ COMMITTED a set whose text another writer committed in the
    meantime is read anew when locked and then no longer matches: no text is
    written twice.
    """
    ids = list(
        db.scalars(
            select(MetaDataSet.id)
            .where(unwritten())
            .order_by(MetaDataSet.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True, key_share=True)
        )
    )
    if ids:
        db.execute(
            select(func.refresh_search_text(bindparam("set_ids", ids, type_=ARRAY(Integer))))
        )
    return ids


def write_unwritten(sessions: sessionmaker[Session], batch_size: int = BATCH_SIZE) -> int:
    """Write every missing search text, one batch per transaction; how many were written.

    Stops at the first batch that is not full: the rest (if any) is locked by another
    writer, who writes it, or was submitted after this began, and has a job of its own.
    """
    written = 0
    while True:
        with sessions.begin() as db:
            db.connection(execution_options={"isolation_level": "READ COMMITTED"})
            ids = write_batch(db, batch_size)
        written += len(ids)
        if ids:
            log.info("search texts: wrote %d, sets %d to %d", len(ids), ids[0], ids[-1])
        if len(ids) < batch_size:
            return written


def count_unwritten(db: Session) -> int:
    """How many submitted sets wait for their search text."""
    return db.scalar(select(func.count()).select_from(MetaDataSet).where(unwritten())) or 0
