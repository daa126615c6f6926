"""Housekeeping the worker runs periodically; each function logs what it removed.

- Uploads not completed within the upload window: the file is deleted, its
  multipart upload aborted and its object (if any) deleted.
- Objects of deleted files: deleted from storage (``DeletedObject`` rows are
  written in the transaction that deletes a file, so none is forgotten).
- Expired password and registration links and expired API keys: purged once
  a grace period has passed (an expired link's page offers a fresh one until then).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from datameta.logic.files import VERIFYING, doom_objects
from datameta.models import ApiKey, DeletedObject, File, MetaDatumRecord, PasswordToken
from datameta.storage import Storage

log = logging.getLogger(__name__)

# One run removes at most this many of each kind; the next run takes the rest.
BATCH = 1000


def remove_expired_uploads(db: Session, now: datetime) -> list[str]:
    """Delete staged files whose upload window closed before their content was complete.

    Files being verified completed in time and stay. Returns their site ids.
    """
    linked = select(MetaDatumRecord.file_id).where(MetaDatumRecord.file_id.is_not(None))
    expired = list(
        db.scalars(
            select(File)
            .where(
                File.upload_expires < now,
                File.content_uploaded.is_(False),
                File.verification.is_distinct_from(VERIFYING),
                File.id.not_in(linked),
            )
            .order_by(File.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    doom_objects(db, expired)
    for file in expired:
        log.info(
            "housekeeping: removed %s %r of user %s, not uploaded within its window (until %s)",
            file.site_id,
            file.name,
            file.user_id,
            file.upload_expires.isoformat(),
        )
        db.delete(file)
    db.flush()
    return [file.site_id for file in expired]


def purge_deleted_objects(db: Session, storage: Storage) -> list[str]:
    """Delete from storage the objects of deleted files (aborting open uploads); their keys."""
    doomed = list(
        db.scalars(
            select(DeletedObject)
            .order_by(DeletedObject.created)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for item in doomed:
        # Both are idempotent: a crash before the commit only repeats them next time.
        if item.multipart_upload_id is not None:
            storage.abort_multipart(item.storage_key, item.multipart_upload_id)
        storage.delete(item.storage_key)
        log.info("housekeeping: deleted stored object %s of a deleted file", item.storage_key)
        db.delete(item)
    db.flush()
    return [item.storage_key for item in doomed]


def purge_expired_credentials(db: Session, now: datetime, grace_days: int) -> tuple[int, int]:
    """Delete password/registration links and API keys expired more than ``grace_days`` ago."""
    cutoff = now - timedelta(days=grace_days)
    tokens = db.execute(
        delete(PasswordToken)
        .where(PasswordToken.expires < cutoff)
        .returning(PasswordToken.user_id, PasswordToken.purpose)
    ).all()
    keys = db.execute(
        delete(ApiKey).where(ApiKey.expires < cutoff).returning(ApiKey.user_id, ApiKey.label)
    ).all()
    for user_id, purpose in tokens:
        log.info("housekeeping: purged an expired %s link of user %s", purpose.value, user_id)
    for user_id, label in keys:
        log.info("housekeeping: purged expired API key %r of user %s", label, user_id)
    return len(tokens), len(keys)
